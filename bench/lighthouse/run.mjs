// Run Lighthouse on one page with the session cookie in the browser's own cookie jar.
//
//   CHROME_PATH=/usr/bin/chromium node bench/lighthouse/run.mjs job.json
//
// job.json: {url, outputPath, categories, chromeFlags, cookies: [{name, value}], extraHeaders}
// (written by bench/lighthouse.py). This is what `lighthouse URL --output=json --port=...` does
// after launching Chrome with chrome-launcher, plus one step the CLI lacks: cookies are set in
// the browser before the run. The CLI's --extra-headers Cookie is not sent on every request:
// in about 1 run in 4 an htmx request of the page went out without it (401, sign-in page).
// Lighthouse does not clear cookies between runs (clearStorageTypes leaves them alone).
import fs from "node:fs";
import * as chromeLauncher from "chrome-launcher";
import lighthouse from "lighthouse";
import puppeteer from "puppeteer-core";

const job = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const chrome = await chromeLauncher.launch({
  chromePath: process.env.CHROME_PATH,
  chromeFlags: job.chromeFlags,
});
let browser;
try {
  const host = new URL(job.url).hostname;
  browser = await puppeteer.connect({ browserURL: `http://127.0.0.1:${chrome.port}`, defaultViewport: null });
  if (job.cookies.length) {
    await browser.setCookie(
      ...job.cookies.map((c) => ({ name: c.name, value: c.value, domain: host, path: "/", httpOnly: true, sameSite: "Lax" })),
    );
  }
  const result = await lighthouse(job.url, {
    port: chrome.port,
    output: "json",
    logLevel: "error",
    onlyCategories: job.categories,
    extraHeaders: job.extraHeaders || undefined,
  });
  if (!result) throw new Error("lighthouse returned no result");
  fs.writeFileSync(job.outputPath, result.report);
} finally {
  if (browser) await browser.disconnect();
  chrome.kill();
}
