/**
 * The account pages' one stylesheet, served from this origin (the CSP allows no inline
 * style). System fonts, colours with at least 4.5:1 contrast, a visible focus ring, one
 * column on a phone and a two-column details grid from 40rem up; dark mode follows the
 * system.
 */
export const ACCOUNT_CSS = `:root {
  color-scheme: light dark;
  --bg: #f4f5f7; --fg: #1d2330; --muted: #4c5566; --card: #ffffff; --line: #d5d9e0;
  --accent: #1f5fbf; --accent-fg: #ffffff; --danger: #b3261e; --danger-bg: #fdecea;
  --ok-bg: #e6f4ea; --ok-fg: #1e5b32; --badge-bg: #e3ecfa; --badge-fg: #173f7a;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #14171c; --fg: #e8eaee; --muted: #b4bac6; --card: #1d2128; --line: #363c47;
    --accent: #8ab4f8; --accent-fg: #0c1a30; --danger: #f2b8b5; --danger-bg: #3b1d1b;
    --ok-bg: #1c3324; --ok-fg: #b8e3c4; --badge-bg: #23344f; --badge-fg: #cfe0fc;
  }
}
* { box-sizing: border-box; }
/* The buttons' own display would otherwise win over the attribute. */
[hidden] { display: none !important; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--fg);
  font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.top {
  display: flex; align-items: baseline; gap: .75rem; padding: .75rem 1.25rem;
  background: var(--card); border-bottom: 1px solid var(--line);
}
.brand { font-weight: 700; font-size: 1.125rem; color: var(--fg); text-decoration: none; }
.top-note { color: var(--muted); font-size: .875rem; }
main { max-width: 46rem; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
h1 { font-size: 1.625rem; line-height: 1.25; margin: 0 0 .5rem; }
h2 { font-size: 1.0625rem; line-height: 1.3; margin: 0; overflow-wrap: anywhere; }
p { margin: .5rem 0; }
.lead { color: var(--muted); margin-bottom: 1.25rem; }
.panel {
  background: var(--card); border: 1px solid var(--line); border-radius: .75rem;
  padding: 1.25rem; margin: 0 0 1rem;
}
.narrow { max-width: 26rem; margin-left: auto; margin-right: auto; }
.stack { display: grid; gap: .375rem; }
.stack label { font-weight: 600; margin-top: .5rem; }
.hint { font-weight: 400; color: var(--muted); font-size: .875rem; }
input[type=text], input[type=password] {
  font: inherit; width: 100%; padding: .625rem .75rem; color: var(--fg); background: var(--bg);
  border: 1px solid var(--muted); border-radius: .5rem; min-height: 2.75rem;
}
button, .button {
  font: inherit; font-weight: 600; display: inline-flex; align-items: center; justify-content: center;
  min-height: 2.75rem; padding: .5rem 1rem; border-radius: .5rem; cursor: pointer;
  border: 1px solid var(--accent); background: var(--accent); color: var(--accent-fg); text-decoration: none;
}
.stack button { margin-top: 1rem; }
button.secondary { background: transparent; color: var(--accent); }
button.danger { background: transparent; color: var(--danger); border-color: var(--danger); }
button:disabled { opacity: .6; cursor: progress; }
.link { margin-left: .75rem; }
.alert {
  background: var(--danger-bg); color: var(--fg); border-left: 4px solid var(--danger);
  padding: .75rem 1rem; border-radius: .375rem;
}
.status:empty { display: none; }
.status { background: var(--ok-bg); color: var(--ok-fg); padding: .75rem 1rem; border-radius: .375rem; }
.sessions { list-style: none; padding: 0; margin: 0; display: grid; gap: .75rem; }
.session { background: var(--card); border: 1px solid var(--line); border-radius: .75rem; padding: 1rem 1.25rem; }
.session.current { border: 2px solid var(--accent); }
.session-head { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem .75rem; margin-bottom: .5rem; }
.badge {
  display: inline-block; font-size: .8125rem; font-weight: 600; padding: .125rem .5rem;
  border-radius: 999px; background: var(--badge-bg); color: var(--badge-fg);
}
.badge.this { background: var(--accent); color: var(--accent-fg); }
.details { display: grid; grid-template-columns: 1fr; gap: .25rem 1.5rem; margin: 0 0 .75rem; }
.details div { display: flex; gap: .5rem; justify-content: space-between; border-bottom: 1px dashed var(--line); padding: .25rem 0; }
.details dt { color: var(--muted); }
.details dd { margin: 0; text-align: right; overflow-wrap: anywhere; }
.session-actions { display: flex; flex-wrap: wrap; gap: .5rem; }
.others { margin-top: 1.5rem; display: grid; gap: .5rem; justify-items: start; }
.activity { margin-top: 2.5rem; display: grid; gap: .5rem; justify-items: start; }
.activity > .hint { margin: 0 0 .25rem; }
.events { list-style: none; padding: 0; margin: 0; width: 100%; background: var(--card); border: 1px solid var(--line); border-radius: .75rem; }
.event { padding: .75rem 1.25rem; border-top: 1px solid var(--line); border-left: 4px solid transparent; overflow-wrap: anywhere; }
.event:first-child { border-top: 0; border-top-left-radius: .75rem; border-top-right-radius: .75rem; }
.event:last-child { border-bottom-left-radius: .75rem; border-bottom-right-radius: .75rem; }
.event.alarming { border-left-color: var(--danger); background: var(--danger-bg); }
.event p { margin: 0; }
.event-title { display: flex; flex-wrap: wrap; align-items: center; gap: .25rem .5rem; }
.event-where, .event-by, .event-time { color: var(--muted); font-size: .9375rem; }
.event .part { display: inline-block; max-width: 100%; }
.code { color: var(--muted); font-size: .9375rem; }
.detail { color: var(--muted); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9375em; background: var(--bg); padding: .0625rem .3125rem; border-radius: .25rem; }
@media (min-width: 40rem) {
  .details { grid-template-columns: 1fr 1fr; }
  main { padding-top: 2rem; }
}
`;
