package dataset

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// checkParquet walks a Parquet file's structure before parquet-go reads it:
// parquet-go allocates what the file declares (a footer length, a thrift
// list's size, a page's size) before checking it against the bytes there,
// so a 2 KB file could make it allocate gigabytes. Every size is checked
// here against the bytes that could hold it: the footer against the file,
// each thrift list and string against the footer's remaining bytes, each
// column chunk against the file, each page against its chunk, and each
// page's uncompressed size against a bound.
func checkParquet(r io.ReaderAt, size int64) error {
	if size < 12 {
		return fmt.Errorf("%d bytes is too short for a Parquet file", size)
	}
	var head, tail [4]byte
	var trailer [8]byte
	if _, err := r.ReadAt(head[:], 0); err != nil {
		return err
	}
	if _, err := r.ReadAt(trailer[:], size-8); err != nil {
		return err
	}
	copy(tail[:], trailer[4:])
	if string(head[:]) != "PAR1" || string(tail[:]) != "PAR1" {
		if string(tail[:]) == "PARE" {
			return errors.New("an encrypted Parquet file: not supported")
		}
		return errors.New("no PAR1 marks at the start and the end: not a Parquet file")
	}
	footerLen := int64(binary.LittleEndian.Uint32(trailer[:4]))
	if footerLen > size-12 {
		return fmt.Errorf("the footer claims %d bytes but the file has %d", footerLen, size)
	}
	if footerLen > maxParquetFooter {
		return fmt.Errorf("a footer of %d MB, over the %d MB this reader accepts", footerLen>>20, maxParquetFooter>>20)
	}
	footer := make([]byte, footerLen)
	if _, err := r.ReadAt(footer, size-8-footerLen); err != nil {
		return err
	}
	meta, err := (&thriftReader{b: footer}).value(typeStruct)
	if err != nil {
		return fmt.Errorf("footer: %v", err)
	}
	dataEnd := size - 8 - footerLen
	for _, rg := range list(field(meta, 4)) { // FileMetaData.row_groups
		for _, cc := range list(field(rg, 1)) { // RowGroup.columns
			md := field(cc, 3) // ColumnChunk.meta_data
			if md == nil {
				continue
			}
			if err := checkChunk(r, md, dataEnd); err != nil {
				return err
			}
		}
	}
	return nil
}

const (
	maxParquetFooter = 64 << 20
	maxParquetPage   = 256 << 20 // uncompressed bytes of one page
)

// checkChunk checks a column chunk's range and walks its page headers.
func checkChunk(r io.ReaderAt, md any, dataEnd int64) error {
	start, _ := field(md, 9).(int64) // data_page_offset
	if dict, ok := field(md, 11).(int64); ok && dict > 0 && dict < start {
		start = dict // dictionary_page_offset
	}
	length, _ := field(md, 7).(int64) // total_compressed_size
	if start < 4 || length < 0 || length > dataEnd-start {
		return fmt.Errorf("a column chunk at byte %d of %d bytes lies outside the file's %d data bytes", start, length, dataEnd)
	}
	for pos, end := start, start+length; pos < end; {
		buf := make([]byte, min(end-pos, 64<<10))
		if _, err := r.ReadAt(buf, pos); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		t := &thriftReader{b: buf}
		hdr, err := t.value(typeStruct)
		if err != nil {
			return fmt.Errorf("page header at byte %d: %v", pos, err)
		}
		uncompressed, _ := field(hdr, 2).(int64)
		compressed, _ := field(hdr, 3).(int64)
		pos += int64(t.pos)
		if compressed < 0 || compressed > end-pos {
			return fmt.Errorf("a page at byte %d claims %d bytes, past its column chunk's end at byte %d", pos, compressed, end)
		}
		if uncompressed < 0 || uncompressed > maxParquetPage || uncompressed > 1024*compressed+1<<20 {
			return fmt.Errorf("a page at byte %d claims %d bytes uncompressed from %d: not believable", pos, uncompressed, compressed)
		}
		pos += compressed
	}
	return nil
}

// Thrift compact protocol types.
const (
	typeTrue, typeFalse, typeByte, typeI16, typeI32, typeI64, typeDouble = 1, 2, 3, 4, 5, 6, 7
	typeBinary, typeList, typeSet, typeMap, typeStruct                   = 8, 9, 10, 11, 12
)

// thriftReader decodes the thrift compact protocol into a small tree
// (structs as map[int16]any, lists as []any, integers as int64, strings as
// []byte) and refuses any count larger than the bytes left to hold it.
type thriftReader struct {
	b     []byte
	pos   int
	depth int
}

var errThriftShort = errors.New("ends early")

func (t *thriftReader) byte() (byte, error) {
	if t.pos >= len(t.b) {
		return 0, errThriftShort
	}
	t.pos++
	return t.b[t.pos-1], nil
}

func (t *thriftReader) varint() (uint64, error) {
	v, n := binary.Uvarint(t.b[t.pos:])
	if n <= 0 {
		return 0, errors.New("a bad varint")
	}
	t.pos += n
	return v, nil
}

func (t *thriftReader) zigzag() (int64, error) {
	v, err := t.varint()
	return int64(v>>1) ^ -int64(v&1), err
}

// count reads a size and checks that at least per bytes each remain.
func (t *thriftReader) count(v uint64, per int) (int, error) {
	if v > uint64(len(t.b)-t.pos)/uint64(per) {
		return 0, fmt.Errorf("a count of %d with %d bytes left", v, len(t.b)-t.pos)
	}
	return int(v), nil
}

func (t *thriftReader) value(typ byte) (any, error) {
	switch typ {
	case typeTrue:
		return true, nil
	case typeFalse:
		return false, nil
	case typeByte:
		b, err := t.byte()
		return int64(b), err
	case typeI16, typeI32, typeI64:
		return t.zigzag()
	case typeDouble:
		if len(t.b)-t.pos < 8 {
			return nil, errThriftShort
		}
		t.pos += 8
		return math.Float64frombits(binary.LittleEndian.Uint64(t.b[t.pos-8:])), nil
	case typeBinary:
		v, err := t.varint()
		if err != nil {
			return nil, err
		}
		n, err := t.count(v, 1)
		if err != nil {
			return nil, err
		}
		t.pos += n
		return t.b[t.pos-n : t.pos], nil
	}
	if t.depth++; t.depth > 64 {
		return nil, errors.New("nested too deep")
	}
	defer func() { t.depth-- }()
	switch typ {
	case typeList, typeSet:
		return t.list()
	case typeMap:
		return t.mapValue()
	case typeStruct:
		return t.structValue()
	}
	return nil, fmt.Errorf("unknown type %d", typ)
}

func (t *thriftReader) list() (any, error) {
	h, err := t.byte()
	if err != nil {
		return nil, err
	}
	size, elem := uint64(h>>4), h&0x0f
	if size == 15 {
		if size, err = t.varint(); err != nil {
			return nil, err
		}
	}
	n, err := t.count(size, 1)
	if err != nil {
		return nil, err
	}
	if elem == typeTrue || elem == typeFalse { // a list of booleans: one byte each
		t.pos += n
		return nil, nil
	}
	out := make([]any, n)
	for i := range out {
		if out[i], err = t.value(elem); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (t *thriftReader) mapValue() (any, error) {
	size, err := t.varint()
	if err != nil || size == 0 {
		return nil, err
	}
	n, err := t.count(size, 2)
	if err != nil {
		return nil, err
	}
	kv, err := t.byte()
	if err != nil {
		return nil, err
	}
	for range n {
		if _, err := t.value(kv >> 4); err != nil {
			return nil, err
		}
		if _, err := t.value(kv & 0x0f); err != nil {
			return nil, err
		}
	}
	return nil, nil // maps hold nothing the checks need
}

func (t *thriftReader) structValue() (any, error) {
	fields := map[int16]any{}
	var id int16
	for {
		h, err := t.byte()
		if err != nil {
			return nil, err
		}
		if h == 0 { // stop
			return fields, nil
		}
		if delta := int16(h >> 4); delta != 0 {
			id += delta
		} else {
			v, err := t.zigzag()
			if err != nil {
				return nil, err
			}
			id = int16(v)
		}
		if fields[id], err = t.value(h & 0x0f); err != nil {
			return nil, err
		}
	}
}

// field is a struct's field by id (nil if absent or not a struct).
func field(v any, id int16) any {
	m, _ := v.(map[int16]any)
	return m[id]
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}
