package api

import (
	"archive/zip"
	"bytes"
	"sort"
	"time"
)

// zipFiles packs files (sorted by name) into a zip archive, each entry
// dated now (the export's time; zip.Writer.Create leaves the format's zero,
// which unzip shows as 1980).
func zipFiles(files map[string][]byte) ([]byte, error) {
	now := time.Now()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate, Modified: now})
		if err != nil {
			return nil, err
		}
		if _, err := f.Write(files[n]); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
