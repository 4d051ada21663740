// Browser check of the operator-marking widget (issue: real sensor path): JupyterLab + headless Chromium.
// Needs Debian's chromium and `npm install playwright-core`; not part of CI. Run from the repo root:
//   (cd tools && PYTHONPATH=../lib ../.venv/bin/jupyter lab --no-browser --port 8899 --ServerApp.token='' \
//      --ServerApp.password='' --allow-root &) ; NODE_PATH=<dir with playwright-core>/node_modules node tools/check_marking_widget.js
// It opens tools/marking_demo.ipynb (a smoke-profile frame from `make test`), clicks VP, NC, then outside the
// image (ignored), presses Skip, and saves a screenshot; the status line must read "4/10 — click RSH".
const { chromium } = require('playwright-core');
(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto('http://localhost:8899/lab/tree/marking_demo.ipynb', { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('.jp-Notebook', { timeout: 60000 });
  await page.waitForSelector('text=| Idle', { timeout: 120000 });
  await page.waitForTimeout(2000);
  await page.click('.jp-Cell .jp-InputArea-editor');
  await page.keyboard.press('Shift+Enter');
  const canvas = await page.waitForSelector('.jupyter-matplotlib-canvas-div canvas', { timeout: 120000 });
  await page.waitForTimeout(4000);
  const box = await canvas.boundingBox();
  console.log('canvas', JSON.stringify(box));
  // click three landmarks in the middle of the figure, then press Skip once
  const pts = [[0.50, 0.13], [0.50, 0.52], [0.30, 0.18]];
  for (const [fx, fy] of pts) { await page.mouse.click(box.x + fx * box.width, box.y + fy * box.height); await page.waitForTimeout(1500); }
  await page.click('button:has-text("Skip (not visible)")');
  await page.waitForTimeout(2500);
  await page.evaluate(() => document.querySelector('.widget-html-content').scrollIntoView());
  await page.waitForTimeout(1000);
  await page.screenshot({ path: 'docs/marking_widget_jupyterlab.png' });
  const status = await page.textContent('.widget-html-content');
  console.log('status:', status);
  await browser.close();
})().catch(e => { console.error(e); process.exit(1); });
