/**
 * @module cluster/worker-shared
 * A worker's side of the state the primary relays or collects for the whole gateway (cluster/hub.ts), registered
 * once the worker's gateway runs ({@link shareWorkerState}; cluster/worker.ts calls it):
 *
 * - **HA backend health**: a URL a request here found failed (or back) is told to the primary (`ha.mark`), which
 *   tells every other worker; a mark from another worker is applied as if a request here had found it
 *   (dispatch/ha/service.ts `applyHealthMark`). A primary that cannot be reached leaves this worker with its
 *   own view (the notification is dropped; nothing waits for it).
 * - **the admin API's per-process views** (recent errors, HA states, connections, traffic, leaks, readiness):
 *   `admin.collect` answers this worker's part (services/admin/gateway-wide.ts `localView`), for the worker
 *   the API request landed on to combine.
 */
import { applyHealthMark, type HealthMark, onHealthMark } from '../dispatch/ha/service.ts';
import { localView, type ViewName } from '../services/admin/gateway-wide.ts';
import type { GatewayHandle } from '../spi/index.ts';
import type { Rpc } from './rpc.ts';

export function shareWorkerState(rpc: Rpc, gateway: GatewayHandle): void {
  onHealthMark((mark) => {
    rpc.notify('ha.mark', mark);
  });
  rpc.on('ha.mark', (a: { mark: HealthMark; worker: number }) => applyHealthMark(a.mark, a.worker));
  rpc.on('admin.collect', (a: { view: ViewName; args?: { window?: number } }) =>
    localView(gateway, a.view, a.args),
  );
}
