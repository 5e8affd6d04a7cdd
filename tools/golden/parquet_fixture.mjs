// Writes SST-2 Parquet shards the way the Hugging Face hub serves GLUE
// (columns idx int32, sentence string, label int64), with hyparquet-writer,
// a Parquet implementation independent of the Go reader under test.
// Usage: node tools/golden/parquet_fixture.mjs ../shared/data/sst2/train.tsv testdata/sst2 2000 2
import { readFileSync, mkdirSync } from "node:fs";
import { parquetWriteFile } from "hyparquet-writer";

const [tsv, outDir, rowsArg, shardsArg] = process.argv.slice(2);
const rows = readFileSync(tsv, "utf8").split("\n").slice(1).filter((l) => l).slice(0, Number(rowsArg))
  .map((l) => l.split("\t"));
const shards = Number(shardsArg);
const per = Math.ceil(rows.length / shards);
mkdirSync(outDir, { recursive: true });
for (let s = 0; s < shards; s++) {
  const part = rows.slice(s * per, (s + 1) * per);
  const filename = `${outDir}/train-${String(s).padStart(5, "0")}-of-${String(shards).padStart(5, "0")}.parquet`;
  parquetWriteFile({
    filename,
    columnData: [
      { name: "idx", data: part.map((_, i) => s * per + i), type: "INT32" },
      { name: "sentence", data: part.map((r) => r[0]), type: "STRING" },
      { name: "label", data: part.map((r) => BigInt(r[1])), type: "INT64" },
    ],
    rowGroupSize: 400,
  });
  console.log(`wrote ${filename}: ${part.length} rows`);
}
