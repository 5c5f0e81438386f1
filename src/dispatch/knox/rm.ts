/**
 * @module dispatch/knox/rm
 * Knox's ResourceManager HA dispatches (gateway-service-rm): RMHaDispatch (RESOURCEMANAGER), RMUIHaDispatch
 * (YARNUI) and RMUI2HaDispatch (YARNUIV2) extend RMHaBaseDispatcher, a ConfigurableDispatch with its own failover:
 * a 403 or 307 whose body says "This is standby RM" is a standby's answer and is failed over
 * (dispatch/ha/standby). Knox then follows the standby's `Location` once; postern moves to the service's next URL,
 * which is the active RM in every layout where the RMs are the service's URLs. RMSchedulerUIHaDispatch
 * (YARN-SCHEDULER-UI) is the same.
 */
import { resourceManagerStandby } from '../ha/standby.ts';
import { knoxDispatch } from './extend.ts';

const RM = 'org.apache.knox.gateway.rm.dispatch.';

export const rmHaDispatch = knoxDispatch({
  name: 'rm-ha',
  classNames: [
    `${RM}RMHaDispatch`,
    `${RM}RMUIHaDispatch`,
    `${RM}RMUI2HaDispatch`,
    `${RM}RMSchedulerUIHaDispatch`,
  ],
  base: { variant: 'configurable', standby: resourceManagerStandby },
  failover: true,
});
