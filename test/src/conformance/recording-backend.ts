/** A backend that is another backend, keeping every instance it starts (to look at their processes). */
import type { Backend, SandboxInputs, SandboxInstance } from '@pyti/slave';

export interface RecordingBackend extends Backend {
  /** The instances started so far, with the inputs they were started on. */
  readonly started: { inputs: SandboxInputs; instance: SandboxInstance }[];
}

export function recordingBackend(inner: Backend): RecordingBackend {
  const started: RecordingBackend['started'] = [];
  return {
    name: inner.name,
    get capabilities() {
      return inner.capabilities;
    },
    started,
    probe: () => inner.probe(),
    start: async (inputs) => {
      const instance = await inner.start(inputs);
      started.push({ inputs, instance });
      return instance;
    },
  };
}
