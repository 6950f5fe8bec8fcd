// Browser tests of issue 20: a photo sent by the attach button, by dragging it onto the
// conversation and by pasting it shows as a thumbnail (its aspect ratio reserved) for the other
// user and opens full size in the viewer (Escape closes); another file shows as a card whose
// Download button saves the exact bytes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import zlib from 'node:zlib';
import { RUN, WAIT, browserTest, newPage, login, conv, setupSuite } from './harness.mjs';

const suite = setupSuite();
let seq = 0;

async function user(base, displayName) {
  seq += 1;
  return suite.server.register(`${base}${seq}_${RUN}`, displayName);
}

function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xEDB88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

// An RGB PNG of w x h in one colour.
function png(w, h, [r, g, b]) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const row = Buffer.alloc(1 + w * 3);
  for (let x = 0; x < w; x++) { row[1 + 3 * x] = r; row[2 + 3 * x] = g; row[3 + 3 * x] = b; }
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// Friends, with a direct chat both list (it exists once something was said in it).
async function friends(a, b) {
  await suite.server.befriend(a, b);
  const dm = `dm:${[a.user_id, b.user_id].sort((x, y) => (BigInt(x) < BigInt(y) ? -1 : 1)).join(':')}`;
  seq += 1;
  await suite.server.api('POST', `/conversations/${encodeURIComponent(dm)}/messages`,
    { client_msg_id: `f20-${RUN}-${seq}`, body: { type: 'text', text: 'hello' } }, a.token);
}

async function openChat(page, who, title) {
  await login(page, who.username);
  await conv(page, title).click();
  await page.locator('#attach-button:not([disabled])').waitFor();
}

// The other side sees a thumbnail of w x h reserved, whose image loads from an object URL;
// clicking it opens the full image, and Escape closes the viewer.
async function expectPhoto(page, name, w, h) {
  const img = page.locator(`#messages li.msg img.thumb[alt="${name}"]`);
  await img.waitFor();
  await page.waitForFunction((n) => {
    const el = document.querySelector(`#messages img.thumb[alt="${n}"]`);
    return el && el.src.startsWith('blob:') && el.complete && el.naturalWidth > 0;
  }, name);
  assert.equal(await img.getAttribute('width'), String(w));
  assert.equal(await img.getAttribute('height'), String(h));
  const box = await img.boundingBox();
  assert.ok(Math.abs(box.width / box.height - w / h) < 0.05, `aspect ratio kept: ${box.width}x${box.height}`);
  await img.click();
  const viewer = page.locator('#viewer');
  await viewer.waitFor({ state: 'visible' });
  await page.waitForFunction(() => {
    const el = document.getElementById('viewer-img');
    return el.src.startsWith('blob:') && el.complete && el.naturalWidth > 0;
  });
  const natural = await page.locator('#viewer-img').evaluate((el) => [el.naturalWidth, el.naturalHeight]);
  await page.keyboard.press('Escape');
  await viewer.waitFor({ state: 'hidden' });
  return natural;
}

browserTest('a photo sent by the attach button shows as a thumbnail and opens full size', async () => {
  const a = await user('ann', 'Ann');
  const b = await user('ben', 'Ben');
  await friends(a, b);
  const pa = await newPage(suite.server.url);
  const pb = await newPage(suite.server.url);
  await openChat(pa, a, 'Ben');
  await openChat(pb, b, 'Ann');
  await pa.locator('#file-input').setInputFiles({ name: 'sunset.png', mimeType: 'image/png', buffer: png(640, 480, [200, 80, 20]) });
  // The sender sees it too, and the upload tray empties.
  await pa.locator('#messages li.msg img.thumb[alt="sunset.png"]').waitFor();
  await pa.locator('#uploads').waitFor({ state: 'hidden' });
  const natural = await expectPhoto(pb, 'sunset.png', 320, 240);
  assert.deepEqual(natural, [640, 480]);
});

browserTest('a photo dragged onto the conversation and one pasted are sent as well', async () => {
  const a = await user('cat', 'Cat');
  const b = await user('dan', 'Dan');
  await friends(a, b);
  const pa = await newPage(suite.server.url);
  const pb = await newPage(suite.server.url);
  await openChat(pa, a, 'Dan');
  await openChat(pb, b, 'Cat');
  const bytes = [...png(300, 600, [20, 120, 220])];
  await pa.evaluate((data) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(data)], 'tall.png', { type: 'image/png' }));
    const chat = document.getElementById('chat');
    chat.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    chat.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, bytes);
  assert.deepEqual(await expectPhoto(pb, 'tall.png', 160, 320), [300, 600]);

  const pasted = [...png(100, 100, [0, 200, 0])];
  await pa.evaluate((data) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(data)], 'clip.png', { type: 'image/png' }));
    const box = document.getElementById('composer-text');
    box.focus();
    box.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  }, pasted);
  assert.deepEqual(await expectPhoto(pb, 'clip.png', 100, 100), [100, 100]);
});

browserTest('another file shows as a card whose download saves its bytes', async () => {
  const a = await user('eve', 'Eve');
  const b = await user('fay', 'Fay');
  await friends(a, b);
  const pa = await newPage(suite.server.url);
  const pb = await newPage(suite.server.url);
  await openChat(pa, a, 'Fay');
  await openChat(pb, b, 'Eve');
  const text = `minutes of the meeting ${RUN}\n`.repeat(100);
  await pa.locator('#file-input').setInputFiles({ name: 'minutes.txt', mimeType: 'text/plain', buffer: Buffer.from(text) });
  const card = pb.locator('#messages li.msg .file-card', { hasText: 'minutes.txt' });
  await card.waitFor();
  assert.match(await card.locator('.file-size').textContent(), /KB$/);
  const [download] = await Promise.all([
    pb.waitForEvent('download', { timeout: WAIT }),
    card.getByRole('button', { name: 'Download minutes.txt' }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'minutes.txt');
  assert.equal(fs.readFileSync(await download.path(), 'utf8'), text);
});

browserTest('an upload shows its progress, can be cancelled, and a failed one retried', async () => {
  const a = await user('gil', 'Gil');
  const b = await user('hal', 'Hal');
  await friends(a, b);
  const pa = await newPage(suite.server.url);
  await openChat(pa, a, 'Hal');
  // Held at the network: the tray shows it with a progress bar until it is cancelled.
  let release;
  const held = new Promise((r) => { release = r; });
  // (The browser may have dropped the request by the time it is released.)
  await pa.route('**/api/v1/files?*', async (route) => { await held; await route.abort().catch(() => {}); });
  await pa.locator('#file-input').setInputFiles({ name: 'held.txt', mimeType: 'text/plain', buffer: Buffer.from('held') });
  const tray = pa.locator('#uploads li.upload', { hasText: 'held.txt' });
  await tray.locator('progress').waitFor();
  await tray.getByRole('button', { name: 'Cancel' }).click();
  await pa.locator('#uploads').waitFor({ state: 'hidden' });
  release();
  await pa.unroute('**/api/v1/files?*');
  // Cut off once: it fails with Retry; the retry goes through and the file is sent.
  let failures = 1;
  await pa.route('**/api/v1/files?*', async (route) => {
    if (failures-- > 0) await route.abort('connectionreset');
    else await route.continue();
  });
  await pa.locator('#file-input').setInputFiles({ name: 'retry.txt', mimeType: 'text/plain', buffer: Buffer.from('second time lucky') });
  const failed = pa.locator('#uploads li.upload.failed', { hasText: 'retry.txt' });
  await failed.getByRole('alert').waitFor();
  await failed.getByRole('button', { name: 'Retry' }).click();
  await pa.locator('#messages li.msg .file-card', { hasText: 'retry.txt' }).waitFor();
  await pa.locator('#uploads').waitFor({ state: 'hidden' });
  // The cancelled one was never sent.
  assert.equal(await pa.locator('#messages li.msg .file-card', { hasText: 'held.txt' }).count(), 0);
});
