import { renumberAccounts } from './slot-accounts.js';

test("the slot users keep their names and homes under the sandbox's uid range; other accounts are untouched", () => {
  const passwd = 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n'
    + 'alex:x:2000:2000:Alex Morgan,,,:/home/alex:/bin/bash\njames:x:2007:2007:James Walker,,,:/home/james:/bin/bash\nx:x:2008:2008::/:/bin/sh\n';
  expect(renumberAccounts(passwd, [2, 3], 1500016, 8)).toBe('root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n'
    + 'alex:x:1500016:1500016:Alex Morgan,,,:/home/alex:/bin/bash\njames:x:1500023:1500023:James Walker,,,:/home/james:/bin/bash\nx:x:2008:2008::/:/bin/sh\n');
  expect(renumberAccounts('users:x:100:\nalex:x:2000:\n', [2], 1500016, 8)).toBe('users:x:100:\nalex:x:1500016:\n');
});
