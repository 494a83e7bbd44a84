// A day of PyPI uploads as a schedule of index changes (publish, yank, remove, noise), seeded and
// reproducible, to be replayed into the test index at a speed-up.
//
// The volume is measured; the shape is an assumption, stated here so that it can be argued with:
// - Volume: 10 700 files a day (PyPI in 2025: about 7.4 files a minute; issue 14).
// - Time of day: uploads follow the working day of Europe and the Americas; the rate is the day's mean
//   times 1 + 0.4·cos(2π(h − 16)/24): 1.4× at 16:00 UTC, 0.6× at 04:00 UTC.
// - Releases (what one `twine upload` sends), arriving as a Poisson process at that rate:
//     55 % an sdist and a pure wheel (py3-none-any), uploaded 1–5 s apart;
//     20 % a pure wheel only; 10 % an sdist only;
//     15 % an sdist and 4–16 platform wheels (cp39–cp313 × manylinux/musllinux/macOS/Windows, what
//          cibuildwheel makes), uploaded in one burst, 1–3 s apart.
//   That is 3.05 files a release on average and one sdist per 2.8 wheels (issue 14's brief: PyPI's
//   mix is about one sdist per 2–3 wheels).
// - Bursts: 2 % of arrivals are a monorepo release (an SDK, a plugin family): 5–30 projects, each an
//   sdist and a pure wheel, all within about a minute.
// - 20 % of releases are a new project's first; the others are a new version of a project seen before.
// - Yanks and removals, 2 min–1 h after a release's last file: 1 % of releases yanked, 0.3 % removed,
//   0.3 % lose one file, 0.1 % of new projects removed whole; and 0.3 change-log entries per release
//   that change nothing served (`add Owner …`, `update classifiers`), which the master must ignore.
//   `churn` multiplies the yank and removal rates (tests use it to exercise them in a short slice).

export const FILES_PER_DAY = 10_700;
export const DAY_SECONDS = 86_400;

const PLATFORMS = [
  'manylinux_2_17_x86_64.manylinux2014_x86_64', 'manylinux_2_17_aarch64.manylinux2014_aarch64', 'musllinux_1_2_x86_64',
  'macosx_10_9_x86_64', 'macosx_11_0_arm64', 'win_amd64',
];
const PYTHONS = ['cp39', 'cp310', 'cp311', 'cp312', 'cp313'];
const NOISE = ['add Owner maintainer', 'update classifiers', 'add Maintainer helper', 'remove Owner former', 'update description'];

/** A seeded PRNG (mulberry32): a function returning [0, 1). */
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The day's rate multiplier at `sec` seconds after 00:00 UTC (mean 1 over the day). */
export function diurnal(sec) {
  const h = (sec % DAY_SECONDS) / 3600;
  return 1 + 0.4 * Math.cos((2 * Math.PI * (h - 16)) / 24);
}

/** Average files per arrival (release or monorepo burst) under the mix above. */
export const FILES_PER_ARRIVAL = 0.98 * (0.55 * 2 + 0.20 + 0.10 + 0.15 * (1 + 10)) + 0.02 * (17.5 * 2);

/**
 * The schedule of one slice of the day.
 * @param {{ startSec: number, spanSec: number, maxFiles?: number, seed?: number, churn?: number }} opts
 *   startSec: PyPI time of day the slice starts at (0 = 00:00 UTC); spanSec: its length in PyPI seconds;
 *   maxFiles: stop after this many files are published.
 * @returns {{ actions: object[], files: number, releases: number, spanSec: number }} `actions` sorted by
 *   `at` (PyPI seconds from the slice's start), each `{at, op, …}`: `publish` {file}, `yank` /
 *   `remove-release` {name, version}, `remove-file` {filename, name, version}, `remove-project` {name},
 *   `noise` {name, action}. A file is `{filename, name, version, kind: 'sdist'|'wheel', tag}`.
 */
export function daySchedule({ startSec, spanSec, maxFiles = Infinity, seed = 1, churn = 1 }) {
  const c = Math.min(churn, 25);
  const rnd = seededRandom(seed);
  const between = (a, b) => a + rnd() * (b - a);
  const int = (a, b) => a + Math.floor(rnd() * (b - a + 1));
  const actions = [];
  const projects = []; // { name, next, removed }
  let newNames = 0;
  let releases = 0;
  const meanArrivalsPerSec = FILES_PER_DAY / FILES_PER_ARRIVAL / DAY_SECONDS;
  const peak = 1.4 * meanArrivalsPerSec;

  const newProject = (name) => {
    const p = { name, next: 0, removed: false, releases: 0 };
    projects.push(p);
    return p;
  };
  const pickProject = () => {
    if (projects.length < 20 || rnd() < 0.2) return newProject(`rp-${String(++newNames).padStart(5, '0')}`);
    for (let i = 0; i < 10; i++) {
      const p = projects[Math.floor(rnd() * projects.length)];
      if (!p.removed) return p;
    }
    return newProject(`rp-${String(++newNames).padStart(5, '0')}`);
  };
  const fileOf = (p, version, kind, tag) => {
    const base = `${p.name.replace(/[-.]+/g, '_')}-${version}`;
    return { filename: kind === 'sdist' ? `${base}.tar.gz` : `${base}-${tag}.whl`, name: p.name, version, kind, tag: tag ?? null };
  };

  /** One release of `p` whose first file is uploaded at `at`; its follow-ups (yank, removal, noise) too. */
  const release = (p, at, shape) => {
    const version = `1.${p.next++}`;
    const first = p.releases++ === 0;
    releases++;
    const files = [];
    if (shape !== 'pure') files.push(fileOf(p, version, 'sdist'));
    if (shape === 'sdist+pure' || shape === 'pure') files.push(fileOf(p, version, 'wheel', 'py3-none-any'));
    if (shape === 'platform') {
      const tags = [];
      for (const py of PYTHONS) for (const plat of PLATFORMS) tags.push(`${py}-${py}-${plat}`);
      const k = int(4, 16);
      for (let i = 0; i < k; i++) files.push(fileOf(p, version, 'wheel', tags.splice(Math.floor(rnd() * tags.length), 1)[0]));
    }
    let t = at;
    for (const f of files) {
      actions.push({ at: t, op: 'publish', file: f });
      t += shape === 'platform' ? between(1, 3) : between(1, 5);
    }
    const later = t + between(120, 3600);
    const r = rnd();
    if (r < 0.01 * c) actions.push({ at: later, op: 'yank', name: p.name, version });
    else if (r < 0.013 * c) actions.push({ at: later, op: 'remove-release', name: p.name, version });
    else if (r < 0.016 * c) {
      const f = files[Math.floor(rnd() * files.length)];
      actions.push({ at: later, op: 'remove-file', filename: f.filename, name: p.name, version });
    } else if (first && r < 0.017 * c) {
      actions.push({ at: later, op: 'remove-project', name: p.name });
      p.removed = true; // no later release picks it (pypi.org would let the name be registered again)
    }
    if (rnd() < 0.3) actions.push({ at: t + between(1, 600), op: 'noise', name: p.name, action: NOISE[Math.floor(rnd() * NOISE.length)] });
  };

  // Arrivals by thinning a Poisson process at the peak rate.
  for (let at = 0; ;) {
    at += -Math.log(1 - rnd()) / peak;
    if (at >= spanSec) break;
    if (rnd() > (meanArrivalsPerSec * diurnal(startSec + at)) / peak) continue;
    if (rnd() < 0.02) {
      const family = `org${String(++newNames).padStart(5, '0')}`;
      const n = int(5, 30);
      for (let i = 0; i < n; i++) release(newProject(`${family}-pkg${i}`), at + between(0, 60), 'sdist+pure');
    } else {
      const r = rnd();
      release(pickProject(), at, r < 0.55 ? 'sdist+pure' : r < 0.75 ? 'pure' : r < 0.85 ? 'sdist' : 'platform');
    }
  }
  actions.sort((a, b) => a.at - b.at);

  // The slice ends at its span or at the maxFiles-th file, whichever comes first; what follows is cut.
  let files = 0;
  let end = actions.length;
  for (let i = 0; i < actions.length; i++) {
    if (actions[i].at >= spanSec) { end = i; break; }
    if (actions[i].op === 'publish' && ++files > maxFiles) { end = i; files--; break; }
  }
  const kept = actions.slice(0, end);
  // A follow-up whose release was cut is dropped (it names files the index never had).
  const published = new Set(kept.filter((a) => a.op === 'publish').map((a) => `${a.file.name}\0${a.file.version}`));
  const liveProjects = new Set(kept.filter((a) => a.op === 'publish').map((a) => a.file.name));
  const publishedFiles = new Set(kept.filter((a) => a.op === 'publish').map((a) => a.file.filename));
  const out = kept.filter((a) => a.op === 'publish'
    || (a.op === 'remove-file' ? publishedFiles.has(a.filename)
      : a.op === 'remove-project' || a.op === 'noise' ? liveProjects.has(a.name)
        : published.has(`${a.name}\0${a.version}`)));
  return { actions: out, files, releases: new Set(out.filter((a) => a.op === 'publish').map((a) => `${a.file.name}\0${a.file.version}`)).size, spanSec: end < actions.length ? actions[end].at : spanSec };
}
