// Files and images (docs/protocol.md, "Files and images"): the attach button, dropping files on
// the conversation and pasting an image upload with a progress bar (cancel; a failed upload can
// be retried) and then send a `file` message. In the message list an image shows as its
// thumbnail in a box of its real aspect ratio (reserved before it loads, so nothing jumps) and
// opens full size in a viewer (Escape closes); other files show as a card with their name,
// size and a download button. Bytes are fetched with the bearer token into object URLs.

import { app, explain, toast } from './app.js';
import { $, h } from './dom.js';

const THUMB_MAX = 320;
const uploads = new Map(); // id -> { id, c, file, name, sent, total, status, error, controller }
let nextId = 1;

export function formatSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

function renderUploads() {
  const tray = $('uploads');
  const c = app.ui.active;
  const mine = [...uploads.values()].filter((u) => u.c === c);
  tray.hidden = mine.length === 0;
  tray.replaceChildren(...mine.map((u) => h('li', { class: `upload ${u.status}`, dataset: { upload: String(u.id) } },
    h('span', { class: 'upload-name', text: u.name }),
    u.status === 'failed'
      ? h('span', { class: 'upload-error', role: 'alert', text: u.error || 'Upload failed.' })
      : h('progress', { max: String(u.total || 1), value: String(u.sent), 'aria-label': `Uploading ${u.name}` }),
    u.status === 'failed'
      ? h('button', { type: 'button', class: 'retry', onclick: () => run(u), text: 'Retry' })
      : null,
    h('button', {
      type: 'button', class: 'ghost cancel',
      onclick: () => cancel(u),
      text: u.status === 'failed' ? 'Discard' : 'Cancel',
    }))));
}

function cancel(u) {
  if (u.controller) u.controller.abort();
  uploads.delete(u.id);
  renderUploads();
}

async function run(u) {
  u.status = 'uploading';
  u.error = null;
  u.sent = 0;
  u.controller = new AbortController();
  renderUploads();
  let file;
  try {
    file = await app.api.upload(u.file, u.name, {
      signal: u.controller.signal,
      onProgress: (sent, total) => {
        u.sent = sent;
        u.total = total;
        const bar = document.querySelector(`[data-upload="${u.id}"] progress`);
        if (bar) { bar.max = total || 1; bar.value = sent; }
      },
    });
  } catch (e) {
    if (e.code === 'aborted') return;
    u.status = 'failed';
    u.error = explain(e);
    renderUploads();
    return;
  }
  uploads.delete(u.id);
  renderUploads();
  const meta = { name: file.name, size: file.size, content_type: file.content_type };
  if (file.width) { meta.width = file.width; meta.height = file.height; }
  try {
    // `file` is shown until the server's copy arrives; the server stores its own metadata.
    await app.store.send(u.c, { type: 'file', file_id: file.file_id, file: meta });
  } catch (e) {
    toast(explain(e));
  }
}

export function uploadFiles(files) {
  const c = app.ui.active;
  if (!c || !app.store) return;
  for (const f of files) {
    const u = { id: nextId++, c, file: f, name: f.name || 'pasted-image.png', sent: 0, total: f.size, status: 'uploading' };
    uploads.set(u.id, u);
    run(u);
  }
}

// ---- showing files -------------------------------------------------------------------------
function fillImage(img, fileId, thumbnail) {
  app.api.fileUrl(fileId, thumbnail).then((url) => { img.src = url; }, () => {
    img.alt = 'Image unavailable';
    img.classList.add('broken');
  });
}

export function openViewer(fileId, name) {
  const d = $('viewer');
  const img = $('viewer-img');
  img.removeAttribute('src');
  img.alt = name;
  $('viewer-title').textContent = name;
  fillImage(img, fileId, false);
  if (!d.open) d.showModal();
}

async function download(fileId, name) {
  try {
    const url = await app.api.fileUrl(fileId, false);
    const a = h('a', { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
  } catch (e) {
    toast(explain(e));
  }
}

// The content of a `file` message's bubble: a thumbnail or a file card.
export function fileContent(body) {
  const f = body.file || {};
  const name = f.name || 'file';
  if (f.width && f.height) {
    const scale = Math.min(1, THUMB_MAX / Math.max(f.width, f.height));
    const w = Math.max(1, Math.round(f.width * scale));
    const ht = Math.max(1, Math.round(f.height * scale));
    const img = h('img', { class: 'thumb', alt: name, width: String(w), height: String(ht) });
    // The box keeps the image's aspect ratio before the thumbnail arrives.
    img.style.aspectRatio = `${f.width} / ${f.height}`;
    fillImage(img, body.file_id, true);
    return h('button', {
      type: 'button', class: 'thumb-button', 'aria-label': `Open image ${name}`,
      onclick: () => openViewer(body.file_id, name),
    }, img);
  }
  return h('div', { class: 'file-card' },
    h('span', { class: 'file-icon', 'aria-hidden': 'true', text: '📄' }),
    h('span', { class: 'file-meta' },
      h('span', { class: 'file-name', text: name }),
      h('span', { class: 'file-size', text: f.size !== undefined ? formatSize(f.size) : '' })),
    h('button', {
      type: 'button', class: 'download', 'aria-label': `Download ${name}`,
      onclick: () => download(body.file_id, name), text: 'Download',
    }));
}

export function setupFiles() {
  const input = $('file-input');
  $('attach-button').addEventListener('click', () => input.click());
  input.addEventListener('change', () => {
    uploadFiles([...input.files]);
    input.value = '';
  });
  const chat = $('chat');
  chat.addEventListener('dragover', (ev) => {
    if (!app.ui.active || !ev.dataTransfer || ![...ev.dataTransfer.types].includes('Files')) return;
    ev.preventDefault();
    chat.classList.add('dropping');
  });
  chat.addEventListener('dragleave', (ev) => {
    if (ev.target === chat || !chat.contains(ev.relatedTarget)) chat.classList.remove('dropping');
  });
  chat.addEventListener('drop', (ev) => {
    chat.classList.remove('dropping');
    if (!app.ui.active || !ev.dataTransfer || !ev.dataTransfer.files.length) return;
    ev.preventDefault();
    uploadFiles([...ev.dataTransfer.files]);
  });
  $('composer-text').addEventListener('paste', (ev) => {
    const files = ev.clipboardData ? [...ev.clipboardData.files] : [];
    if (!files.length) return;
    ev.preventDefault();
    uploadFiles(files);
  });
  $('viewer-close').addEventListener('click', () => $('viewer').close());
}

// The open conversation changed: its uploads show in the tray.
export function renderUploadTray() { renderUploads(); }
