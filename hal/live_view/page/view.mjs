// The live view page: draws the panels the board sends over /ws/view, sends the buttons'
// requests back, and runs an xterm.js terminal over /ws/terminal. Both sockets carry the
// token of the page's own URL. When a socket closes (the board went away) the page tries
// again every second and says so; a kexec or reboot of the system keeps the sockets (the
// board stays) and the page shows the system going down and coming back, with the downtime.

/* global Terminal */

const token = document.body.dataset.token;
const socketUrl = (path) => `ws://${location.host}${path}?token=${encodeURIComponent(token)}`;
const $ = (selector) => document.querySelector(selector);

/** What the page knows: the latest panels, the log, the system's status. */
const state = { panels: {}, log: [], system: { state: 'booting' }, receivedAtMs: performance.now(), connected: false, reconnects: 0 };
let viewSocket;
let nextRequestId = 1;
const pending = new Map();

// ---- the view socket ----------------------------------------------------------------

function connectView() {
  const socket = new WebSocket(socketUrl('/ws/view'));
  viewSocket = socket;
  socket.onopen = () => {
    state.connected = true;
    if (state.reconnects > 0) notice(`reconnected to the board (after ${state.reconnects} ${state.reconnects === 1 ? 'try' : 'tries'})`);
    state.reconnects = 0;
    drawStatus();
  };
  socket.onmessage = (event) => receive(JSON.parse(event.data));
  socket.onclose = () => {
    if (viewSocket !== socket) return;
    state.connected = false;
    state.reconnects++;
    drawStatus();
    setTimeout(connectView, 1000);
  };
}

function receive(message) {
  switch (message.t) {
    case 'state':
      state.panels = message.panels;
      state.log = message.log;
      state.receivedAtMs = performance.now();
      setSystem(message.system);
      drawAll();
      break;
    case 'panels':
      Object.assign(state.panels, message.panels);
      if (message.panels.servers) state.receivedAtMs = performance.now();
      for (const name of Object.keys(message.panels)) draw(name);
      break;
    case 'log':
      state.log = [...state.log, ...message.records].slice(-2000);
      drawLog();
      break;
    case 'result': {
      const what = pending.get(message.id);
      pending.delete(message.id);
      notice(`${what ?? 'request'}: ${message.message}`, message.ok ? 'ok' : 'error');
      break;
    }
    case 'system':
      setSystem(message.system);
      break;
    case 'error':
      notice(message.message, 'error');
      break;
  }
}

function setSystem(system) {
  const before = state.system;
  state.system = system;
  if (system.state === 'down') notice(`the system is going down (${system.reason ?? 'restart'})…`);
  if (system.state === 'up' && before.state === 'down') {
    notice(`the system is back after ${system.reason ?? 'a restart'}: down for ${system.downtimeMs ?? '?'} ms`, 'ok');
  }
  drawStatus();
}

function request(action, name) {
  if (!viewSocket || viewSocket.readyState !== WebSocket.OPEN) return notice('not connected to the board', 'error');
  const id = nextRequestId++;
  pending.set(id, name ? `${action} ${name}` : action);
  viewSocket.send(JSON.stringify({ t: 'control', id, action, ...(name ? { name } : {}) }));
  notice(`${action}${name ? ` ${name}` : ''}…`);
}

// ---- drawing ------------------------------------------------------------------------

function notice(text, kind = '') {
  const element = $('#notice');
  element.textContent = text;
  element.className = kind;
}

function drawStatus() {
  const element = $('#system-status');
  const { system } = state;
  if (!state.connected) {
    element.textContent = state.reconnects > 0 ? `board unreachable; reconnecting (try ${state.reconnects})` : 'connecting…';
    element.className = 'status disconnected';
    return;
  }
  element.className = `status ${system.state}`;
  element.textContent = system.state === 'up'
    ? `up${system.downtimeMs !== undefined ? ` (back after ${system.reason}: ${system.downtimeMs} ms down)` : ''}`
    : system.state === 'down' ? `down (${system.reason})` : 'booting';
  element.dataset.downtimeMs = system.downtimeMs ?? '';
}

const drawers = { servers: drawServers, devices: drawDevices, memory: drawMemory, kho: drawKho, ipc: drawIpc };

function draw(name) {
  drawers[name]?.();
}

function drawAll() {
  for (const name of Object.keys(drawers)) draw(name);
  drawLog();
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function formatUptime(ms) {
  if (!ms) return '-';
  const seconds = ms / 1000;
  return seconds < 60 ? `${seconds.toFixed(1)} s` : seconds < 3600 ? `${Math.floor(seconds / 60)} min ${Math.floor(seconds % 60)} s` : `${(seconds / 3600).toFixed(1)} h`;
}

function drawServers() {
  const rows = state.panels.servers ?? [];
  const body = $('#servers tbody');
  body.replaceChildren();
  const elapsed = performance.now() - state.receivedAtMs;
  for (const server of rows) {
    const row = body.insertRow();
    row.dataset.name = server.name;
    cell(row, server.name, 'name');
    cell(row, server.kind);
    cell(row, String(server.generation), 'number generation');
    cell(row, server.state, `state state-${server.state}`);
    cell(row, String(server.restarts), 'number');
    cell(row, formatUptime(server.state === 'running' ? server.uptimeMs + elapsed : 0), 'number uptime');
    cell(row, String(server.messages), 'number');
    cell(row, String(server.pages), 'number');
    const controls = row.insertCell();
    for (const action of ['restart', 'kill', 'stop', 'start']) {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = action;
      button.dataset.action = action;
      button.onclick = () => request(action, server.name);
      controls.append(button);
    }
  }
  updateServerFilter();
}

function drawDevices() {
  const rows = state.panels.devices ?? [];
  const body = $('#devices tbody');
  body.replaceChildren();
  for (const device of rows) {
    const row = body.insertRow();
    cell(row, device.path);
    cell(row, device.kind);
    cell(row, device.interrupt === undefined ? '-' : String(device.interrupt), 'number');
    cell(row, device.interrupts === undefined ? '-' : String(device.interrupts), 'number interrupts');
    cell(row, device.driver ?? '-');
    cell(row, device.state, `state state-${device.state}`);
    const queues = row.insertCell();
    for (const queue of device.queues ?? []) {
      const track = document.createElement('span');
      track.className = 'bar-track';
      track.title = `queue ${queue.index}: ${queue.inUse} of ${queue.size} in use`;
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = `${queue.size ? Math.round((60 * queue.inUse) / queue.size) : 0}px`;
      track.append(bar);
      queues.append(track, `${queue.inUse}/${queue.size} `);
    }
  }
}

/** A colour per owner name, stable across draws. */
const palette = ['#4d7cfe', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac', '#1f77b4', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];
const ownerColours = new Map([['free', '#e8ebf0'], ['unavailable', '#333a45']]);
function colourOf(owner) {
  if (!ownerColours.has(owner)) ownerColours.set(owner, palette[(ownerColours.size - 2) % palette.length]);
  return ownerColours.get(owner);
}

function drawMemory() {
  const memory = state.panels.memory;
  if (!memory) return;
  const canvas = $('#memory');
  const context = canvas.getContext('2d');
  const map = memory.map;
  context.clearRect(0, 0, canvas.width, canvas.height);
  const legend = $('#memory-legend');
  legend.replaceChildren();
  if (map) {
    const columns = 128;
    const rows = Math.ceil(map.cells.length / columns);
    const size = Math.max(1, Math.floor(Math.min(canvas.width / columns, 256 / rows)));
    canvas.height = rows * size;
    map.cells.forEach((ownerIndex, index) => {
      context.fillStyle = colourOf(map.owners[ownerIndex] ?? 'unavailable');
      context.fillRect((index % columns) * size, Math.floor(index / columns) * size, size, size);
    });
    const caption = document.createElement('div');
    caption.textContent = `one cell per ${map.cellPages} page${map.cellPages === 1 ? '' : 's'} (${map.cellPages * 4} KiB), coloured by the owner of most of its pages; from 0x${map.base.toString(16)}`;
    legend.append(caption);
  }
  const counts = new Map(memory.owners.map((owner) => [owner.name, owner.pages]));
  counts.set('free', memory.freePages);
  for (const [name, pages] of counts) {
    const item = document.createElement('span');
    const swatch = document.createElement('i');
    swatch.style.background = colourOf(name);
    item.append(swatch, `${name} ${pages}`);
    legend.append(item);
  }
  const body = $('#buddy tbody');
  body.replaceChildren();
  memory.freeBlocks.forEach((count, order) => {
    const row = body.insertRow();
    cell(row, `${order} (${4 << order} KiB)`);
    cell(row, String(count), 'number');
  });
}

function drawKho() {
  const kho = state.panels.kho;
  if (!kho) return;
  const element = $('#kho');
  element.replaceChildren();
  const scratch = document.createElement('div');
  scratch.textContent = `scratch areas: ${kho.scratch.join(', ') || 'none'}`;
  element.append(scratch);
  for (const [title, tree] of [['outgoing (this boot)', kho.outgoing], ['incoming (the handover this boot came from)', kho.incoming]]) {
    const heading = document.createElement('h3');
    heading.textContent = title;
    element.append(heading);
    if (!tree) {
      element.append('none: this boot was not a kexec with KHO');
      continue;
    }
    const summary = document.createElement('div');
    summary.textContent = tree.summary;
    const table = document.createElement('table');
    const orders = table.insertRow();
    const counts = table.insertRow();
    cell(orders, 'order');
    cell(counts, 'preserved blocks');
    tree.blocksByOrder.forEach((count, order) => {
      cell(orders, String(order), 'number');
      cell(counts, String(count), 'number');
    });
    const list = document.createElement('ul');
    for (const subtree of tree.subtrees) {
      const item = document.createElement('li');
      item.textContent = `subtree ${subtree}`;
      list.append(item);
    }
    element.append(summary, table, list);
  }
}

function drawIpc() {
  const ipc = state.panels.ipc;
  const svg = $('#ipc');
  svg.replaceChildren();
  if (!ipc) return;
  const names = [...new Set(ipc.edges.flatMap((edge) => [edge.client, edge.server]))].sort();
  const positions = new Map(names.map((name, index) => {
    const angle = (2 * Math.PI * index) / Math.max(1, names.length) - Math.PI / 2;
    return [name, { x: 240 + 150 * Math.cos(angle), y: 180 + 140 * Math.sin(angle) }];
  }));
  const ns = 'http://www.w3.org/2000/svg';
  const maximum = Math.max(1, ...ipc.edges.map((edge) => edge.perSecond));
  for (const edge of ipc.edges) {
    const from = positions.get(edge.client), to = positions.get(edge.server);
    const line = document.createElementNS(ns, 'line');
    line.setAttribute('x1', String(from.x)); line.setAttribute('y1', String(from.y));
    line.setAttribute('x2', String(to.x)); line.setAttribute('y2', String(to.y));
    line.setAttribute('stroke', edge.perSecond > 0 ? '#4d7cfe' : '#d5d9e0');
    line.setAttribute('stroke-width', String(1 + (5 * edge.perSecond) / maximum));
    const title = document.createElementNS(ns, 'title');
    title.textContent = `${edge.client} → ${edge.server} (${edge.interface}): ${edge.perSecond.toFixed(1)}/s, ${edge.messages} in all`;
    line.append(title);
    svg.append(line);
    if (edge.perSecond > 0) {
      const label = document.createElementNS(ns, 'text');
      label.setAttribute('x', String((from.x + 2 * to.x) / 3)); label.setAttribute('y', String((from.y + 2 * to.y) / 3));
      label.setAttribute('font-size', '10'); label.setAttribute('fill', '#1d2430');
      label.textContent = `${edge.perSecond.toFixed(1)}/s`;
      svg.append(label);
    }
  }
  for (const [name, { x, y }] of positions) {
    const circle = document.createElementNS(ns, 'circle');
    circle.setAttribute('cx', String(x)); circle.setAttribute('cy', String(y)); circle.setAttribute('r', '5'); circle.setAttribute('fill', '#1d2430');
    const label = document.createElementNS(ns, 'text');
    label.setAttribute('x', String(x + 7)); label.setAttribute('y', String(y + 4)); label.setAttribute('font-size', '11');
    label.textContent = name;
    svg.append(circle, label);
  }
}

const LEVELS = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

function updateServerFilter() {
  const select = $('#log-server');
  const names = new Set([...(state.panels.servers ?? []).map((row) => row.name), ...state.log.map((record) => record.server)]);
  const have = new Set([...select.options].map((option) => option.value));
  for (const name of [...names].sort()) {
    if (have.has(name)) continue;
    const option = document.createElement('option');
    option.value = name;
    option.textContent = name;
    select.append(option);
  }
}

function drawLog() {
  const minimum = Number($('#log-level').value);
  const server = $('#log-server').value;
  const element = $('#log');
  const atBottom = element.scrollTop + element.clientHeight >= element.scrollHeight - 4;
  element.replaceChildren();
  for (const record of state.log) {
    if (record.level < minimum || (server && record.server !== server)) continue;
    const line = document.createElement('div');
    line.className = `level-${record.level}`;
    const who = record.generation > 1 ? `${record.server}#${record.generation}` : record.server;
    line.textContent = `[${(record.uptimeMs / 1000).toFixed(2).padStart(8)}] ${(LEVELS[record.level] ?? record.level).toString().padEnd(5)} ${who}: ${record.msg}`;
    element.append(line);
  }
  if (atBottom) element.scrollTop = element.scrollHeight;
  updateServerFilter();
}

// ---- the terminal -------------------------------------------------------------------

function startTerminal() {
  const terminal = new Terminal({ convertEol: false, cursorBlink: true, fontSize: 13, rows: 18, cols: 132 });
  terminal.open($('#terminal'));
  const encoder = new TextEncoder();
  let socket;
  const connect = () => {
    socket = new WebSocket(socketUrl('/ws/terminal'));
    socket.binaryType = 'arraybuffer';
    socket.onmessage = (event) => terminal.write(new Uint8Array(event.data));
    socket.onclose = () => {
      terminal.write('\r\n\x1b[33m[terminal: the board went away; reconnecting…]\x1b[0m\r\n');
      setTimeout(connect, 1000);
    };
  };
  terminal.onData((data) => {
    if (socket?.readyState === WebSocket.OPEN) socket.send(encoder.encode(data));
  });
  connect();
  // The terminal's text, line by line, for a person at the browser's console (and the browser test).
  window.terminalText = () => {
    const buffer = terminal.buffer.active;
    const lines = [];
    for (let index = 0; index < buffer.length; index++) lines.push(buffer.getLine(index)?.translateToString(true) ?? '');
    return lines.join('\n');
  };
}

// ---- start --------------------------------------------------------------------------

$('#kexec').onclick = () => request('kexec');
$('#log-level').onchange = drawLog;
$('#log-server').onchange = drawLog;
// Uptimes advance on the page between updates (the server sends ps only when something else changed).
setInterval(() => {
  const elapsed = performance.now() - state.receivedAtMs;
  for (const row of /** @type {NodeListOf<HTMLTableRowElement>} */ (document.querySelectorAll('#servers tbody tr'))) {
    const server = (state.panels.servers ?? []).find((candidate) => candidate.name === row.dataset.name);
    if (server) row.querySelector('.uptime').textContent = formatUptime(server.state === 'running' ? server.uptimeMs + elapsed : 0);
  }
}, 1000);
connectView();
startTerminal();
