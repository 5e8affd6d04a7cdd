// Command bundle writes the page's offline demo model: a DistilBERT
// checkpoint's encoder converted to F16 (half the bytes; the MLM head,
// unused for classification, is left out), with its config and tokenizer.
//
//	go run ./tools/bundle -from ../shared/models/distilbert-tiny -to public/models/distilbert-tiny
package main

import (
	"bytes"
	"flag"
	"log"
	"os"
	"path/filepath"

	"github.com/webtune/webtune/model/checkpoint"
	"github.com/webtune/webtune/model/safetensors"
)

func main() {
	from := flag.String("from", "", "source model folder")
	to := flag.String("to", "", "destination folder")
	flag.Parse()
	src := checkpoint.Dir(*from)
	m, err := checkpoint.Load(src, filepath.Base(*from))
	if err != nil {
		log.Fatal(err)
	}
	if err := os.MkdirAll(*to, 0o755); err != nil {
		log.Fatal(err)
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, m.Weights, map[string]string{"format": "pt"}, "F16"); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*to, "model.safetensors"), buf.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	for _, f := range []string{"config.json", "tokenizer.json", "tokenizer_config.json"} {
		b, err := checkpoint.ReadAll(src, f)
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(*to, f), b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	log.Printf("wrote %s (%d tensors, %d bytes of F16 weights)", *to, len(m.Weights), buf.Len())
}
