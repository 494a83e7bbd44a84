/** `npm run build` step: bundles the vm-agent for the guest. */
import { ensureAgentBundle } from './agent-bundle.js';

await ensureAgentBundle();
