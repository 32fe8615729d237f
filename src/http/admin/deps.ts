import type { Catalog } from '../../catalog/catalog.ts';
import type { AuditLog } from '../../audit/events.ts';
import type { EndpointBreakers } from '../../buyers/endpoint-breakers.ts';
import type { Clock } from '../../clock/clock.ts';
import type { CatalogRepository } from '../../db/catalog-repository.ts';
import type { LeadRepository } from '../../db/lead-repository.ts';
import type { LedgerRepository } from '../../db/ledger-repository.ts';
import type { Returns } from '../../returns/returns.ts';
import type { Store } from '../../store/store.ts';

export interface AdminDeps {
  catalog: Catalog;
  repository: CatalogRepository;
  leads: LeadRepository;
  audit: AuditLog;
  store: Store;
  clock: Clock;
  breakers: EndpointBreakers;
  returns: Returns;
  ledger: LedgerRepository;
}
