// The harness of the browser tests: one chromium and one monochat server per test file, pages
// that record uncaught errors, a screenshot of every open page when a test fails, and helpers
// that act as a person would (register, log in, send) or read what the page shows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { Server } from './server.mjs';

export const OUT = process.env.MONOCHAT_BROWSER_OUT || path.resolve('out');
fs.mkdirSync(OUT, { recursive: true });
export const RUN = Date.now().toString(36).slice(-5);
export const PASSWORD = 'correct horse battery';
export const WAIT = 15000;

let browser;
const suite = { server: null, browser: null };
const pages = new Set();

function chromiumPath() {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  // Debian's /usr/bin/chromium is a shell wrapper; Playwright wants the real binary.
  for (const p of ['/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (fs.existsSync(p)) return p;
  }
  throw new Error('chromium is not installed (scripts/deps.sh --test installs it)');
}

// Registers the file's hooks: a browser and a server for its tests (suite.server).
export function setupSuite() {
before(async () => {
  // No background traffic: this machine's network is closed, and refused connections slow
  // Chromium down.
  const args = ['--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
                '--disable-background-networking', '--disable-component-update', '--disable-sync'];
  if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');
  browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args });
  suite.browser = browser;
  suite.server = new Server();
  await suite.server.start();
});

after(async () => {
  if (browser) await browser.close();
  if (suite.server) {
    const code = await suite.server.stop();
    suite.server.cleanup();
    assert.equal(code, 0, 'monochat exits 0 on SIGTERM');
  }
});
return suite;
}

// A page in a fresh context (its own storage): desktop or phone sized; `init` runs before any
// script of the page; `bypassCSP` lets a test inject a script (axe-core).
export async function newPage(base, { phone = false, init = null, bypassCSP = false } = {}) {
  const context = await browser.newContext({
    ...(phone ? { viewport: { width: 390, height: 780 }, isMobile: true, hasTouch: true }
      : { viewport: { width: 1200, height: 780 } }),
    bypassCSP,
  });
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('dialog', (d) => d.accept());
  page.on('pageerror', (e) => { page.errors = [...(page.errors || []), e]; });
  pages.add(page);
  await page.goto(base);
  return page;
}

// Runs a test body; on failure, saves a screenshot of every open page.
export function browserTest(name, body) {
  test(name, async () => {
    try {
      await body();
      for (const p of pages) assert.deepEqual(p.errors || [], [], 'no uncaught errors in the page');
    } catch (e) {
      let i = 0;
      for (const p of pages) {
        const file = path.join(OUT, `failure-${name.replace(/[^a-z0-9]+/gi, '-')}-${i++}.png`);
        await p.screenshot({ path: file, fullPage: true }).catch(() => {});
        console.error(`screenshot: ${file}`);
      }
      throw e;
    } finally {
      for (const p of pages) await p.context().close().catch(() => {});
      pages.clear();
    }
  });
}

export async function online(page) {
  await page.locator('#conn-state[data-state="open"]').waitFor();
}

export async function register(page, username, displayName) {
  await page.getByRole('tab', { name: 'Register' }).click();
  const form = page.locator('#form-register');
  await form.getByLabel('Username').fill(username);
  if (displayName) await form.getByLabel('Display name').fill(displayName);
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Create account' }).click();
  await online(page);
}

export async function login(page, username) {
  const form = page.locator('#form-login');
  await form.getByLabel('Username').fill(username);
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Log in' }).click();
  await online(page);
}

export async function send(page, text) {
  const box = page.getByLabel('Message', { exact: true });
  await box.fill(text);
  await box.press('Enter');
}

export function texts(page) {
  return page.locator('#messages li.msg:not(.pending) .text').allTextContents();
}

export async function expectTexts(page, want) {
  const deadline = Date.now() + WAIT;
  let got;
  for (;;) {
    got = await texts(page);
    if (JSON.stringify(got) === JSON.stringify(want)) return;
    if (Date.now() > deadline) break;
    await page.waitForTimeout(100);
  }
  assert.deepEqual(got, want);
}

export function conv(page, title) {
  return page.locator('#conv-list button.conv', { has: page.locator('.conv-title', { hasText: title }) });
}


// Every message of the open conversation in seq order, read off the page by scrolling it from
// the top to the bottom: the list is windowed, so only the rows near the viewport are in the DOM.
// The scrolling runs in the page (one round trip, not one per step); answers the texts and the
// most elements the page had at any step.
export async function scrollThrough(page) {
  return page.evaluate(async () => {
    const el = document.getElementById('scroller');
    const older = document.getElementById('older-state');
    const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
    const scrollTo = (top) => { el.scrollTop = top; el.dispatchEvent(new Event('scroll')); };
    let maxNodes = 0;
    const count = () => { maxNodes = Math.max(maxNodes, document.getElementsByTagName('*').length); };
    // Scroll to the top until everything older is loaded.
    const deadline = Date.now() + 120000;
    while (!/beginning/.test(older.textContent) && Date.now() < deadline) {
      scrollTo(0);
      count();
      await new Promise((r) => setTimeout(r, 30));
    }
    scrollTo(0);
    await frame();
    const seen = new Map();
    for (;;) {
      for (const li of el.querySelectorAll('#messages li.msg:not(.pending)')) {
        seen.set(Number(li.dataset.seq), li.querySelector('.text').textContent);
      }
      count();
      const before = el.scrollTop;
      scrollTo(before + el.clientHeight + 400);
      await frame();
      if (el.scrollTop === before) break;
    }
    return { texts: [...seen.entries()].sort((a, b) => a[0] - b[0]).map(([, t]) => t), maxNodes };
  });
}

export async function collectTexts(page) { return (await scrollThrough(page)).texts; }
