/**
 * The dashboard's stylesheet: system fonts, light and dark schemes, no
 * external resource. Served inline and allowed by its SHA-256 in the CSP
 * (page.ts), so any change here changes the policy with it.
 */
export const STYLE = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--muted:#59636e;--line:#d1d9e0;--head:#f6f8fa;--card:#f6f8fa;
--ok-bg:#dafbe1;--ok-fg:#116329;--warn-bg:#fff8c5;--warn-fg:#7d4e00;--bad-bg:#ffebe9;--bad-fg:#a40e26;
--info-bg:#ddf4ff;--info-fg:#0550ae;--bar:#2f81f7;--bar-bad:#cf222e}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;--head:#151b23;--card:#151b23;
--ok-bg:#12361f;--ok-fg:#7ee787;--warn-bg:#3b2e05;--warn-fg:#f2cc60;--bad-bg:#490202;--bad-fg:#ffa198;
--info-bg:#0c2d6b;--info-fg:#79c0ff;--bar:#4493f8;--bar-bad:#f85149}}
*{box-sizing:border-box}[hidden]{display:none!important}
body{margin:0;padding:1rem 1.5rem;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,sans-serif}
h1{font-size:1.3rem;margin:0 0 .25rem}h2{font-size:1.05rem;margin:1.5rem 0 .5rem}
.age,#updated,.muted{color:var(--muted)}.url{font-family:ui-monospace,monospace;word-break:break-all}
#banner{margin:.75rem 0;padding:.6rem .9rem;border-radius:6px;background:var(--bad-bg);color:var(--bad-fg);font-weight:600}
body.stale main{opacity:.6}
.summary{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center;margin:.5rem 0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(15rem,1fr));gap:.75rem;margin:1rem 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.7rem .9rem}
.card h2{margin:0 0 .35rem;font-size:.85rem;font-weight:600;color:var(--muted);text-transform:uppercase;letter-spacing:.03em}
.big{font-size:1.6rem;font-weight:700;line-height:1.2}.big small{font-size:.9rem;font-weight:400;color:var(--muted)}
.members{display:flex;gap:1.25rem}.members div{display:flex;flex-direction:column}
.n-online{color:var(--ok-fg)}.n-suspect{color:var(--warn-fg)}.n-offline{color:var(--bad-fg)}
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem;margin:0}dt{color:var(--muted)}dd{margin:0}
table{border-collapse:collapse;width:100%}caption{text-align:left;color:var(--muted);padding-bottom:.3rem}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
thead th{background:var(--head)}tbody th{font-weight:normal}
.badge{display:inline-block;padding:0 .5rem;border-radius:1rem;font-weight:600;white-space:nowrap}
.badge.online,.badge.up,.badge.operator-online{background:var(--ok-bg);color:var(--ok-fg)}
.badge.suspect,.badge.unknown{background:var(--warn-bg);color:var(--warn-fg)}
.badge.offline,.badge.down{background:var(--bad-bg);color:var(--bad-fg)}
.badge.left,.badge.operator-offline{background:var(--info-bg);color:var(--info-fg)}
.tag{margin-left:.5rem;padding:0 .4rem;border:1px solid var(--line);border-radius:4px;font-size:.8rem;color:var(--muted)}
.scroll{max-height:32rem;overflow-y:auto;border:1px solid var(--line);border-radius:6px}
.scroll table th,.scroll table td{border-bottom-color:var(--line)}
.when{white-space:nowrap;font-variant-numeric:tabular-nums}
.exchanges{display:flex;gap:.6rem;align-items:center;white-space:nowrap}
.chart{display:flex;flex:none;align-items:flex-end;justify-content:flex-end;gap:1px;width:121px;height:22px;border-bottom:1px solid var(--line)}
.chart .bar{flex:none;width:3px;min-height:2px;background:var(--bar)}.chart .bar.failed{height:100%;background:var(--bar-bad)}
.figures{font-variant-numeric:tabular-nums}.figures .bad{color:var(--bad-fg);font-weight:600}
.columns{display:grid;grid-template-columns:repeat(auto-fit,minmax(18rem,1fr));gap:0 2rem}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.bad,dd.bad{color:var(--bad-fg);font-weight:600}
#state-stats{margin-bottom:.75rem}table.state-maps{margin-bottom:.75rem}
`;
