import { findBootImage } from '@pyti/images';
import { chooseAccelerator, probeBoot } from './accelerator.js';

const image = findBootImage();
const maybe = image ? it : it.skip;
if (!image) process.stderr.write('accelerator tests skipped: no bootable image (run `pyti image build`)\n');

describe('accelerator choice', () => {
  it('honours PYTI_ACCEL', async () => {
    expect(await chooseAccelerator({} as never, { PYTI_ACCEL: 'tcg' })).toEqual({ accel: 'tcg', reason: 'PYTI_ACCEL' });
  });

  maybe('boots the probe guest under TCG: the kernel, the initramfs and its init answer', async () => {
    expect(await probeBoot(image!, 'tcg', 60000)).toEqual({ ok: true, why: 'a TCG guest booted' });
  });

  maybe('chooses KVM only when a KVM guest boots, and says why', async () => {
    const choice = await chooseAccelerator(image!, {});
    const kvm = await probeBoot(image!, 'kvm', 8000);
    expect(choice.accel).toBe(kvm.ok ? 'kvm' : 'tcg');
    expect(choice.reason.length).toBeGreaterThan(5);
  });
});
