import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { homeAliases, passwdUsers, slotUser } from './slot-users.js';

test('slot users come from passwd; their homes other than the layout home are its aliases', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pyti-passwd-'));
  try {
    const file = join(dir, 'passwd');
    writeFileSync(file, 'root:x:0:0:root:/root:/bin/bash\nalex:x:2000:2000:Alex Morgan,,,:/home/alex:/bin/bash\n'
      + 'sam:x:2001:2001:Sam Carter,,,:/home/sam/:/bin/bash\nodd:x:2002:2002::/work/home:/bin/sh\nbroken line\n');
    const users = passwdUsers(file);
    expect(slotUser(2000, users)).toEqual({ name: 'alex', uid: 2000, home: '/home/alex' });
    expect(slotUser(2009, users)).toBeUndefined();
    expect(homeAliases('/work/home', 2000, 8, users)).toEqual(['/home/alex', '/home/sam']);
    expect(homeAliases('/work/home', undefined, 8, users)).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
