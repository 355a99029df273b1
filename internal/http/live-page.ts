/**
 * The live page served at `GET /` (LIVE_PAGE_ENABLED): plain HTML and a little script, no
 * build step and no framework. It creates an application and a chat (or joins one named in
 * the address's fragment, `#<token>/<chat>`, so a second tab can open the same chat), sends
 * messages, and shows them as they arrive on the chat's event stream. EventSource resumes by
 * itself with Last-Event-ID; if it gives up (a 503 while a replica stops), the page reopens
 * the stream with `?last_event_id=`. Messages are keyed by number, so nothing shows twice.
 */
export const LIVE_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>chat-system live</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; }
  #messages { list-style: none; padding: 0; border: 1px solid #ccc; min-height: 12rem; max-height: 60vh; overflow-y: auto; }
  #messages li { padding: .25rem .5rem; border-bottom: 1px solid #eee; }
  #messages li.deleted { color: #999; text-decoration: line-through; }
  .num { color: #888; margin-right: .5rem; }
  form { display: flex; gap: .5rem; margin: .5rem 0; }
  input[type=text] { flex: 1; }
  #status { color: #666; font-size: 13px; }
</style>
</head>
<body>
<h1>chat-system live</h1>
<p><button id="start" type="button">New application and chat</button>
  <span id="where"></span></p>
<p id="status">not connected</p>
<ul id="messages"></ul>
<form id="send"><input id="text" type="text" autocomplete="off" placeholder="Write a message" disabled>
  <button id="submit" type="submit" disabled>Send</button></form>
<script>
'use strict';
const $ = (id) => document.getElementById(id);
let chat = null;
let source = null;
let lastId = null;
const shown = new Map();

async function api(method, path, body) {
  const res = await fetch('/api' + path, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(method + ' ' + path + ': ' + res.status);
  return res.status === 204 ? null : res.json();
}

function show(m, deleted) {
  let li = shown.get(m.message_number);
  if (li === undefined) {
    li = document.createElement('li');
    li.dataset.number = String(m.message_number);
    shown.set(m.message_number, li);
    const later = [...shown.keys()].filter((n) => n > m.message_number).sort((a, b) => a - b)[0];
    $('messages').insertBefore(li, later === undefined ? null : shown.get(later));
  }
  if (deleted) { li.classList.add('deleted'); return; }
  li.textContent = '';
  const num = document.createElement('span');
  num.className = 'num';
  num.textContent = '#' + m.message_number;
  li.append(num, document.createTextNode(m.message_content));
  $('messages').scrollTop = $('messages').scrollHeight;
}

async function relist() {
  let after = 0;
  for (;;) {
    const page = await api('GET', '/applications/' + chat.token + '/chats/' + chat.number + '/messages?limit=100&after=' + after);
    page.forEach((m) => show(m, false));
    if (page.length < 100) return;
    after = page[page.length - 1].message_number;
  }
}

function connect() {
  const base = '/api/applications/' + chat.token + '/chats/' + chat.number + '/events';
  source = new EventSource(lastId === null ? base : base + '?last_event_id=' + encodeURIComponent(lastId));
  const seen = (e) => { if (e.lastEventId) lastId = e.lastEventId; };
  source.onopen = () => { $('status').textContent = 'live'; };
  source.addEventListener('message.created', (e) => { seen(e); show(JSON.parse(e.data), false); });
  source.addEventListener('message.updated', (e) => { seen(e); show(JSON.parse(e.data), false); });
  source.addEventListener('message.deleted', (e) => { seen(e); show(JSON.parse(e.data), true); });
  source.addEventListener('chat.updated', (e) => { seen(e); });
  source.addEventListener('chat.deleted', (e) => { seen(e); $('status').textContent = 'chat deleted'; source.close(); });
  source.addEventListener('reset', (e) => { seen(e); relist().catch(() => undefined); });
  source.onerror = () => {
    $('status').textContent = 'reconnecting…';
    // EventSource retries by itself unless the server answered with an error: then reopen.
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, 1000);
  };
}

async function join(token, number) {
  chat = { token, number };
  location.hash = token + '/' + number;
  $('where').textContent = 'chat ' + number + ' — open this address in another tab to join it';
  $('text').disabled = false;
  $('submit').disabled = false;
  await relist();
  connect();
}

$('start').addEventListener('click', async () => {
  const app = await api('POST', '/applications', { application_name: 'live page' });
  const created = await api('POST', '/applications/' + app.application_token + '/chats', { chat_name: 'live' });
  await join(app.application_token, created.chat_number);
});

$('send').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = $('text').value;
  if (text.trim() === '' || chat === null) return;
  $('text').value = '';
  await api('POST', '/applications/' + chat.token + '/chats/' + chat.number + '/messages', { message_content: text });
});

const fragment = /^#([^/]+)\\/([0-9]+)$/.exec(location.hash);
if (fragment !== null) join(fragment[1], Number(fragment[2])).catch((err) => { $('status').textContent = String(err); });
</script>
</body>
</html>
`;
