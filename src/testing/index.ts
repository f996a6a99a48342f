/**
 * `clustershazbot/testing`: run the real engine on virtual time. A
 * {@link Simulation} starts many servers on a {@link SimClock} and a
 * {@link SimNetwork} (latency, loss, partitions, crash, pause, skew);
 * {@link MemoryNetwork} and {@link ManualClock} suit small hand-driven tests.
 */
export {
  Simulation, SIM_SECRET, SIM_CONTROL_SECRET, SIM_START_MS,
  type SimulationOptions, type SimNode, type SimNodeStatus, type SimEvent, type SimEventType,
} from './simulation.js';
export { SimClock, DRAIN_DEPTH, YIELD_EVERY } from './sim-clock.js';
export {
  SimNetwork, SimProcess, SIM_MASTER_LIST_URL, type SimHandler, type SimNetworkOptions, type SimMessage, type HostState,
} from './sim-network.js';
export { requestBytes, responseBytes } from './http-bytes.js';
export { MemoryNetwork, type MemoryMasterList, type Outage } from './memory-network.js';
export { ManualClock } from '../core/clock.js';
export { seededRandom } from '../core/random.js';
