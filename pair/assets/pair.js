// The pair page: the session's terminal (xterm.js) beside pictures of
// its live state. Everything comes from this page's own server, with
// the token of the URL it was opened with.
'use strict';
(function () {
  const token = new URLSearchParams(location.search).get('t') || '';
  const q = '?t=' + encodeURIComponent(token);
  const $ = (id) => document.getElementById(id);
  let drive = false;
  let term = null;

  function setRole(d, who) {
    drive = d;
    $('role').textContent = d ? 'driving: what you type runs in the session' : 'watching';
    if (who) $('role').title = who;
  }

  function svgURL(svg) {
    // An SVG as an image: it cannot run scripts or reach anything.
    const bytes = new TextEncoder().encode(svg);
    let bin = '';
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return 'data:image/svg+xml;base64,' + btoa(bin);
  }

  function panel(m) {
    if (m.ns) { $('ns').src = svgURL(m.ns); $('ns').dataset.svg = m.ns; $('ns').alt = 'namespaces'; }
    $('children').textContent = m.children || '';
    $('plan').textContent = m.plan || '';
  }

  function connect() {
    const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws' + q);
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (e) => {
      if (typeof e.data !== 'string') { term.write(new Uint8Array(e.data)); return; }
      const m = JSON.parse(e.data);
      switch (m.type) {
        case 'hello':
          if (!term) {
            term = new Terminal({ cols: m.cols, rows: m.rows, scrollback: 5000, convertEol: true });
            term.open($('term'));
            term.onData((keys) => { if (drive && ws.readyState === 1) ws.send(JSON.stringify({ type: 'in', keys })); });
          } else {
            term.reset();
          }
          if (m.trimmed) term.write('\x1b[2m(the start of the session is no longer kept)\x1b[0m\r\n');
          setRole(m.drive, m.who);
          $('status').textContent = 'live';
          break;
        case 'panel': panel(m); break;
        case 'role': setRole(m.drive); break;
        case 'end':
          $('status').textContent = 'the session ended';
          $('status').className = 'ended';
          break;
      }
    };
    ws.onclose = (e) => {
      if ($('status').className === 'ended') return;
      $('status').textContent = 'disconnected' + (e.reason ? ': ' + e.reason : '') + ' (reload to join again)';
    };
  }

  // A finished lesson, replayed in a terminal of its own.
  let playing = 0;
  async function replay(name) {
    const run = ++playing;
    const text = await (await fetch('/lessons/' + encodeURIComponent(name) + q)).text();
    const lines = text.split('\n').filter((l) => l.trim());
    const head = JSON.parse(lines[0]);
    $('replay').textContent = '';
    const t = new Terminal({ cols: head.width, rows: head.height });
    t.open($('replay'));
    $('replay-title').textContent = name;
    $('replay-box').hidden = false;
    $('term').hidden = true;
    let last = 0;
    for (const l of lines.slice(1)) {
      const [at, kind, data] = JSON.parse(l);
      if (kind !== 'o') continue;
      await new Promise((r) => setTimeout(r, Math.min(1000, (at - last) * 1000)));
      if (run !== playing) { t.dispose(); return; }
      last = at;
      t.write(data);
    }
  }
  $('replay-close').onclick = () => { playing++; $('replay-box').hidden = true; $('term').hidden = false; };
  fetch('/lessons' + q).then((r) => r.json()).then((names) => {
    for (const n of names) {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = n.replace(/\.cast$/, '');
      b.onclick = () => replay(n);
      li.appendChild(b);
      $('lessons').appendChild(li);
    }
  });

  connect();
})();
