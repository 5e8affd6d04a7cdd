// Command genbase writes a model folder with distilbert-base-uncased's
// config and seeded random weights (268 MB, F32): the real size for tests,
// benchmarks and trying the page without downloading the real model.
//
//	go run ./tools/genbase -out /tmp/base [-seed 1] [-tokenizer public/models/distilbert-tiny]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/webtune/webtune/model/checkpoint/synthetic"
)

func main() {
	out := flag.String("out", "", "folder to write config.json, model.safetensors and the tokenizer files into")
	seed := flag.Uint64("seed", 1, "seed of the random weights")
	tok := flag.String("tokenizer", "public/models/distilbert-tiny", "folder with the bert-base-uncased vocab.txt (and tokenizer.json)")
	flag.Parse()
	if *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := synthetic.WriteDir(*out, synthetic.Base(*seed), *tok); err != nil {
		fmt.Fprintln(os.Stderr, "genbase:", err)
		os.Exit(1)
	}
}
