// The sections of `npm run bench:state`, and how their figures are printed.
//
// To add a section (simulator figures, say): write a module under
// bench/state/ that calls `addSection({...})`, and add its path to
// SECTION_MODULES in bench/state.mjs. A section is
//
//   {
//     name: 'sim',                        // for --only / --skip
//     title: 'simulator: …',              // heading row of its part of the table
//     outside: async (ctx) => fields,     // runs in the harness's process, on the host's network
//     inside: async (ctx) => fields,      // runs inside `unshare -n` (lo only; needs root), if given
//     rows: (fields, options) => rows,    // its table rows, from the merged fields of every section
//   }
//
// `fields` is a flat object of JSON-able figures; the final JSON line is
// every section's fields merged (names must not collide), plus the run's
// own (commit, dist, durations, wall times). A row is `{ figure,
// shazbot, redis, target }` (strings; a missing cell prints as —). `ctx`
// has `options` (the parsed command line), `log(message)`, `note(text)`
// (printed under the table), and `once(key, create)`: one resource per
// process shared between sections (the first call creates it with
// `await create()`; its `stop()` is awaited when every section is done).

/** Registered sections, in registration order. */
const registry = [];

/** Registers a section (see above); its name must be new. */
export function addSection(section) {
  if (typeof section?.name !== 'string' || !/^[a-z][a-z0-9-]*$/.test(section.name)) throw new Error(`a section needs a name of [a-z0-9-]: ${section?.name}`);
  if (registry.some((s) => s.name === section.name)) throw new Error(`section ${section.name} registered twice`);
  if (section.inside === undefined && section.outside === undefined) throw new Error(`section ${section.name} has neither inside nor outside`);
  if (typeof section.rows !== 'function') throw new Error(`section ${section.name} has no rows(fields)`);
  registry.push(section);
}

/** Every registered section, in order. */
export const allSections = () => [...registry];

/** A shared-resource context for one process's sections. */
export function sectionContext({ options, log }) {
  const resources = new Map();
  const notes = [];
  return {
    options,
    log,
    notes,
    note: (text) => {
      notes.push(text);
      log(`note: ${text}`);
    },
    once: (key, create) => {
      if (!resources.has(key)) resources.set(key, Promise.resolve().then(create));
      return resources.get(key);
    },
    /** Stops every resource created (errors are logged, not thrown). */
    close: async () => {
      for (const [key, made] of resources) {
        try {
          await (await made)?.stop?.();
        } catch (e) {
          log(`stopping ${key}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      resources.clear();
    },
  };
}

/** `n` with thousands separators (integers) or as is; undefined and null as —. */
export function figure(n, digits) {
  if (n === undefined || n === null) return '—';
  if (typeof n !== 'number') return String(n);
  if (digits !== undefined) return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  return Number.isInteger(n) ? n.toLocaleString('en-US') : String(n);
}

/** "text: met" or "text: **not met**" (or just the text when `ok` is undefined: nothing measured). */
export function verdict(text, ok) {
  return ok === undefined ? text : `${text}: ${ok ? 'met' : '**not met**'}`;
}

/** The Markdown table of the selected sections' rows. */
export function markdownTable(sections, fields, options) {
  const lines = ['| figure | clustershazbot | Redis pub/sub (ioredis) | target / anchor |', '|---|---:|---:|---|'];
  for (const section of sections) {
    const rows = section.rows(fields, options);
    if (rows.length === 0) continue;
    lines.push(`| **${section.title}** | | | |`);
    for (const row of rows) lines.push(`| ${row.figure} | ${row.shazbot ?? '—'} | ${row.redis ?? '—'} | ${row.target ?? ''} |`);
  }
  return lines.join('\n');
}
