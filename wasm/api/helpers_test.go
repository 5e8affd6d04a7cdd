package api

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/webtune/webtune/internal/testpaths"
	"github.com/webtune/webtune/model/checkpoint"
)

func loadConfig(t *testing.T) *checkpoint.Config {
	b, err := os.ReadFile(filepath.Join(testpaths.Root(), "public", "models", "distilbert-tiny", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := checkpoint.ParseConfig("config.json", b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
