import { Hono } from 'hono';
import { requireAdmin } from '../auth.ts';
import { affiliateRoutes } from './affiliates.ts';
import { buyerRoutes } from './buyers.ts';
import { campaignRoutes } from './campaigns.ts';
import type { AdminDeps } from './deps.ts';
import { adminLeadRoutes } from './leads.ts';
import { adminLedgerRoutes } from './ledger.ts';
import { adminReturnRoutes } from './returns.ts';
import { verticalRoutes } from './verticals.ts';

export function adminRoutes(deps: AdminDeps, adminToken: string): Hono {
  const admin = new Hono();
  admin.use('*', requireAdmin(adminToken));
  admin.route('/verticals', verticalRoutes(deps));
  admin.route('/affiliates', affiliateRoutes(deps));
  admin.route('/buyers', buyerRoutes(deps));
  admin.route('/campaigns', campaignRoutes(deps));
  admin.route('/leads', adminLeadRoutes(deps));
  admin.route('/returns', adminReturnRoutes(deps));
  admin.route('/ledger', adminLedgerRoutes(deps));
  return admin;
}
