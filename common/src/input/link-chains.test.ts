import { linkChainEscape, MAX_STEPS } from './link-chains.js';

const sym = (name: string, target: string) => ({ name, target, hard: false });

describe('linkChainEscape', () => {
  it('follows the archive\'s own symlinks: a chain above the root, through a directory link, or absolute', () => {
    expect(linkChainEscape([sym('p/up', '..'), sym('p/x', 'up/../etc')])).toMatchObject({ link: { name: 'p/x' }, why: 'above' });
    expect(linkChainEscape([sym('p/d', '.'), sym('p/d/d2', '../..')])?.why).toBe('above');
    expect(linkChainEscape([sym('p/abs', '/etc'), sym('p/x', 'abs/passwd')])?.why).toBe('above');
    expect(linkChainEscape([sym('p/up', '..'), { name: 'p/h', target: 'p/up/../x', hard: true }])).toMatchObject({ link: { name: 'p/h' }, why: 'above' });
    expect(linkChainEscape([sym('p/a', 'b'), sym('p/b', 'a')])?.why).toBe('loop');
  });

  it('accepts chains that stay inside', () => {
    expect(linkChainEscape([sym('p/sub/up', '..'), sym('p/sub/x', 'up/PKG-INFO'), sym('p/y', 'sub/up/sub/x')])).toBeNull();
  });

  it('is cheap for a hostile number of deep links, and gives up after MAX_STEPS components', () => {
    const deep = Array.from({ length: 4000 }, (_, i) => sym(`p/${'d/'.repeat(400)}l${i}`, `${'../'.repeat(399)}x`));
    const started = process.cpuUsage();
    const r = linkChainEscape(deep);
    const used = process.cpuUsage(started);
    expect(4000 * 800).toBeGreaterThan(MAX_STEPS);
    expect(r?.why).toBe('loop');
    expect((used.user + used.system) / 1000).toBeLessThan(1500);
  });
});
