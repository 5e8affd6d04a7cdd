package kernels

import (
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
)

// The SIMD kernel, when the test runs in WebAssembly with it loaded
// (make test-wasm runs tests through tools/wasmexec, which loads it).
func TestGemmSIMD(t *testing.T) {
	g := SIMDGemm()
	if g == nil {
		t.Skip("no WebAssembly SIMD kernel in this environment")
	}
	t.Logf("SIMD build with fused multiply-adds: %v", SIMDFMA())
	if os.Getenv("WEBTUNE_SIMD") == "plain" && SIMDFMA() {
		t.Fatal("WEBTUNE_SIMD=plain, yet the FMA build is loaded")
	}
	checkGemm(t, "SIMD", g, SIMDPack(), false)
}

// The SIMD kernel split by columns across helper threads (js/team.mjs; the
// test runner starts at least one helper): whole products, each thread's
// columns in several cache blocks, copies to and from shared memory.
func TestGemmTeam(t *testing.T) {
	g, threads := SIMDTeam()
	if g == nil {
		t.Skip("no helper threads in this environment")
	}
	if threads < 2 {
		t.Fatalf("team of %d threads", threads)
	}
	checkGemm(t, "SIMD team", g, SIMDPack(), true)
}

// The SIMD packing of B equals Go's, value for value: transposed sources
// (the 4×4 tile path, with and without edges, rows padded past K) and
// general strides.
func TestPackSIMD(t *testing.T) {
	pack := SIMDPack()
	if pack == nil {
		t.Skip("no WebAssembly SIMD kernel in this environment")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct{ K, N, sk, sn int }{
		{8, 8, 1, 8}, {768, 64, 1, 768}, {13, 7, 1, 13}, {6, 9, 1, 11}, {1, 5, 1, 1}, {5, 1, 1, 5},
		{7, 6, 6, 1}, {4, 5, 15, 3}, {3, 3, 2, 7},
	} {
		src := randSlice(rng, 3+(c.K-1)*c.sk+(c.N-1)*c.sn+1)
		ldd := c.N + c.K%3 // rows of dst padded, or not
		got, want := make([]float32, c.K*ldd), make([]float32, c.K*ldd)
		for i := range got {
			got[i], want[i] = float32(math.NaN()), float32(math.NaN())
		}
		pack(got, ldd, src, 3, c.K, c.N, c.sk, c.sn)
		PackGo(want, ldd, src, 3, c.K, c.N, c.sk, c.sn)
		if !slices.EqualFunc(got, want, func(a, b float32) bool { return a == b || a != a && b != b }) {
			t.Errorf("pack K=%d N=%d sk=%d sn=%d differs from Go's", c.K, c.N, c.sk, c.sn)
		}
	}
}
