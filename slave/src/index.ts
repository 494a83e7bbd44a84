/**
 * @pyti/slave: what only a slave runs: the sandbox and VM backends, the agent session, the audit
 * orchestration (build the report from raw data), prefetch, the slave daemon and its command client,
 * git-source sdist builds, bait generation and the sinkhole log's collection.
 *
 * What the master also uses (command protocol, report schema and rendering, findings and rescore,
 * PyPI naming and index access, archive validation) lives in @pyti/common: import it from there.
 */
export * from './backends/backend.js';
export * from './backends/bwrap.js';
export * from './backends/chroot.js';
export * from './backends/qemu.js';
export * from './backends/qemu-command.js';
export * from './backends/libvirt.js';
export * from './backends/libvirt-domain.js';
export * from './backends/libvirtd.js';
export * from './backends/accelerator.js';
export * from './backends/vm-disks.js';
export * from './agent-session.js';
export * from './guest-messages.js';
export * from './audit.js';
export * from './report/build-report.js';
export * from './report/rescore-dir.js';
export * from './command/command-client.js';
export * from './command/command-results.js';
export * from './prefetch/prefetch.js';
export * from './prefetch/prefetch-host.js';
export * from './prefetch/guest-tags.js';
export * from './prefetch/wheel-cache.js';
export * from './prefetch/guest-python.js';
export * from './prefetch/pip-download.js';
export * from './prefetch/requirements.js';
export * from './prefetch/sdist-requirements.js';
export * from './prefetch/test-requirements.js';
export * from './prefetch/test-prefetch.js';
export * from './prefetch/install-plan.js';
export * from './prefetch/wheelhouse-plan.js';
export * from './prefetch/build-plan.js';
export * from './daemon/slave-daemon.js';
export * from './daemon/slave-config.js';
export * from './daemon/outbox.js';
export * from './daemon/job-runner.js';
export * from './git-source/source-archive.js';
export * from './git-source/sdist-build.js';
export * from './git-source/source-report.js';
export * from './git-source/git-job.js';
export * from './sinkhole/parse-sinkhole.js';
export * from './sinkhole/collect-network.js';
