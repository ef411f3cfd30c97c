// The packages benchmark's baseline: simple-scorm-packager building COUNT zipped packages of the
// files in SOURCE, one after another, as a packager's build script would.
// usage: node ssp_build.js SOURCE OUTDIR COUNT VERSION   (VERSION: "1.2" or "2004 4th Edition")
// prints the elapsed seconds on the last line of stdout (its own log lines go to /dev/null).
const path = require("path");
const scopackager = require("simple-scorm-packager");

const [source, outdir, countText, version] = process.argv.slice(2);
const count = parseInt(countText, 10);
const log = console.log;
console.log = () => {};

function buildOne(i) {
  return new Promise((resolve) => {
    scopackager({
      version,
      organization: "Bench",
      title: `Bench course ${i}`,
      identifier: `bench-${i}`,
      masteryScore: 80,
      startingPage: "index.html",
      source,
      package: { version: "1.0.0", zip: true, outputFolder: path.join(outdir), name: `course-${i}` },
    }, () => resolve());
  });
}

(async () => {
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    await buildOne(i);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  log(seconds.toFixed(3));
})();
