;; simd.wat: webtune's WebAssembly SIMD kernels, working directly on the Go
;; program's linear memory (imported as env.memory): the matrix product
;; (gemm), packing B for it (pack), the interpreter of fused element-wise
;; programs (fused) and row reductions (rows).
;;
;; gemm:
;;   C[m, n] (= or +=) sum_k A[m*ldar + k*ldac] * B[k*ldb + n]
;;
;; A may have any strides (so Aᵀ costs nothing); B must be contiguous along n
;; (the Go side packs it when a layout has it otherwise). Pointers are byte
;; addresses, strides are in elements. The core is a 4x8 register-blocked
;; micro-kernel: eight f32x4 accumulators, two B vectors and one broadcast A
;; value per k, which fits x86's 16 vector registers. Edges run in scalar code.
;; Source of kernels/simd/simd.wasm (built by `make`, with wabt from npm).
(module
  (import "env" "memory" (memory 1))

  (func $gemm (export "gemm")
    (param $a i32) (param $b i32) (param $c i32)
    (param $M i32) (param $N i32) (param $K i32)
    (param $ldar i32) (param $ldac i32) (param $ldb i32) (param $ldc i32) (param $accumulate i32)
    (local $m i32) (local $n i32) (local $k i32)
    (local $Mb i32) (local $Nb i32)
    (local $sa i32) (local $sb i32) (local $sc i32) (local $sr i32)
    (local $pa0 i32) (local $pa1 i32) (local $pa2 i32) (local $pa3 i32) (local $pb i32) (local $pc i32)

    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128) (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $av v128)
    (local.set $sa (i32.shl (local.get $ldac) (i32.const 2)))
    (local.set $sb (i32.shl (local.get $ldb) (i32.const 2)))
    (local.set $sc (i32.shl (local.get $ldc) (i32.const 2)))
    (local.set $sr (i32.shl (local.get $ldar) (i32.const 2)))
    (local.set $Mb (i32.and (local.get $M) (i32.const -4)))
    (local.set $Nb (i32.and (local.get $N) (i32.const -8)))
    (local.set $m (i32.const 0))
    (block $mdone (loop $mloop
      (br_if $mdone (i32.ge_s (local.get $m) (local.get $Mb)))
      (local.set $n (i32.const 0))
      (block $ndone (loop $nloop
        (br_if $ndone (i32.ge_s (local.get $n) (local.get $Nb)))
        (local.set $c00 (v128.const i32x4 0 0 0 0))
        (local.set $c01 (v128.const i32x4 0 0 0 0))
        (local.set $c10 (v128.const i32x4 0 0 0 0))
        (local.set $c11 (v128.const i32x4 0 0 0 0))
        (local.set $c20 (v128.const i32x4 0 0 0 0))
        (local.set $c21 (v128.const i32x4 0 0 0 0))
        (local.set $c30 (v128.const i32x4 0 0 0 0))
        (local.set $c31 (v128.const i32x4 0 0 0 0))
        (local.set $pa0 (i32.add (local.get $a) (i32.mul (local.get $m) (local.get $sr))))
        (local.set $pa1 (i32.add (local.get $pa0) (local.get $sr)))
        (local.set $pa2 (i32.add (local.get $pa1) (local.get $sr)))
        (local.set $pa3 (i32.add (local.get $pa2) (local.get $sr)))
        (local.set $pb (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2))))
        (local.set $k (local.get $K))
        (block $kdone (loop $kloop
          (br_if $kdone (i32.eqz (local.get $k)))
          (local.set $b0 (v128.load (local.get $pb)))
          (local.set $b1 (v128.load offset=16 (local.get $pb)))
          (local.set $av (f32x4.splat (f32.load (local.get $pa0))))
          (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $av) (local.get $b0))))
          (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $av) (local.get $b1))))
          (local.set $av (f32x4.splat (f32.load (local.get $pa1))))
          (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $av) (local.get $b0))))
          (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $av) (local.get $b1))))
          (local.set $av (f32x4.splat (f32.load (local.get $pa2))))
          (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $av) (local.get $b0))))
          (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $av) (local.get $b1))))
          (local.set $av (f32x4.splat (f32.load (local.get $pa3))))
          (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $av) (local.get $b0))))
          (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $av) (local.get $b1))))
          (local.set $pa0 (i32.add (local.get $pa0) (local.get $sa)))
          (local.set $pa1 (i32.add (local.get $pa1) (local.get $sa)))
          (local.set $pa2 (i32.add (local.get $pa2) (local.get $sa)))
          (local.set $pa3 (i32.add (local.get $pa3) (local.get $sa)))
          (local.set $pb (i32.add (local.get $pb) (local.get $sb)))
          (local.set $k (i32.sub (local.get $k) (i32.const 1)))
          (br $kloop)))
        (local.set $pc (i32.add (local.get $c) (i32.add (i32.mul (local.get $m) (local.get $sc)) (i32.shl (local.get $n) (i32.const 2)))))
        (if (local.get $accumulate) (then
          (local.set $c00 (f32x4.add (local.get $c00) (v128.load (local.get $pc))))
          (local.set $c01 (f32x4.add (local.get $c01) (v128.load offset=16 (local.get $pc))))
          (local.set $pc (i32.add (local.get $pc) (local.get $sc)))
          (local.set $c10 (f32x4.add (local.get $c10) (v128.load (local.get $pc))))
          (local.set $c11 (f32x4.add (local.get $c11) (v128.load offset=16 (local.get $pc))))
          (local.set $pc (i32.add (local.get $pc) (local.get $sc)))
          (local.set $c20 (f32x4.add (local.get $c20) (v128.load (local.get $pc))))
          (local.set $c21 (f32x4.add (local.get $c21) (v128.load offset=16 (local.get $pc))))
          (local.set $pc (i32.add (local.get $pc) (local.get $sc)))
          (local.set $c30 (f32x4.add (local.get $c30) (v128.load (local.get $pc))))
          (local.set $c31 (f32x4.add (local.get $c31) (v128.load offset=16 (local.get $pc))))
          (local.set $pc (i32.add (local.get $c) (i32.add (i32.mul (local.get $m) (local.get $sc)) (i32.shl (local.get $n) (i32.const 2)))))))
        (v128.store (local.get $pc) (local.get $c00))
        (v128.store offset=16 (local.get $pc) (local.get $c01))
        (local.set $pc (i32.add (local.get $pc) (local.get $sc)))
        (v128.store (local.get $pc) (local.get $c10))
        (v128.store offset=16 (local.get $pc) (local.get $c11))
        (local.set $pc (i32.add (local.get $pc) (local.get $sc)))
        (v128.store (local.get $pc) (local.get $c20))
        (v128.store offset=16 (local.get $pc) (local.get $c21))
        (local.set $pc (i32.add (local.get $pc) (local.get $sc)))
        (v128.store (local.get $pc) (local.get $c30))
        (v128.store offset=16 (local.get $pc) (local.get $c31))
        (local.set $n (i32.add (local.get $n) (i32.const 8)))
        (br $nloop)))
      (local.set $m (i32.add (local.get $m) (i32.const 4)))
      (br $mloop)))
    ;; Edges: the columns right of the blocked tiles, then the rows below them.
    (call $scalar (local.get $a) (local.get $b) (local.get $c) (i32.const 0) (local.get $Mb) (local.get $Nb) (local.get $N)
      (local.get $K) (local.get $ldar) (local.get $ldac) (local.get $ldb) (local.get $ldc) (local.get $accumulate))
    (call $scalar (local.get $a) (local.get $b) (local.get $c) (local.get $Mb) (local.get $M) (i32.const 0) (local.get $N)
      (local.get $K) (local.get $ldar) (local.get $ldac) (local.get $ldb) (local.get $ldc) (local.get $accumulate)))

  ;; scalar computes rows [m0, m1) x columns [n0, n1) one value at a time.
  (func $scalar
    (param $a i32) (param $b i32) (param $c i32)
    (param $m0 i32) (param $m1 i32) (param $n0 i32) (param $n1 i32)
    (param $K i32) (param $ldar i32) (param $ldac i32) (param $ldb i32) (param $ldc i32) (param $accumulate i32)
    (local $m i32) (local $n i32) (local $k i32) (local $pa i32) (local $pb i32) (local $pc i32) (local $s f32)
    (local.set $m (local.get $m0))
    (block $mdone (loop $mloop
      (br_if $mdone (i32.ge_s (local.get $m) (local.get $m1)))
      (local.set $n (local.get $n0))
      (block $ndone (loop $nloop
        (br_if $ndone (i32.ge_s (local.get $n) (local.get $n1)))
        (local.set $s (f32.const 0))
        (local.set $pa (i32.add (local.get $a) (i32.shl (i32.mul (local.get $m) (local.get $ldar)) (i32.const 2))))
        (local.set $pb (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2))))
        (local.set $k (local.get $K))
        (block $kdone (loop $kloop
          (br_if $kdone (i32.eqz (local.get $k)))
          (local.set $s (f32.add (local.get $s) (f32.mul (f32.load (local.get $pa)) (f32.load (local.get $pb)))))
          (local.set $pa (i32.add (local.get $pa) (i32.shl (local.get $ldac) (i32.const 2))))
          (local.set $pb (i32.add (local.get $pb) (i32.shl (local.get $ldb) (i32.const 2))))
          (local.set $k (i32.sub (local.get $k) (i32.const 1)))
          (br $kloop)))
        (local.set $pc (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (local.get $m) (local.get $ldc)) (local.get $n)) (i32.const 2))))
        (if (local.get $accumulate) (then (local.set $s (f32.add (local.get $s) (f32.load (local.get $pc))))))
        (f32.store (local.get $pc) (local.get $s))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $nloop)))
      (local.set $m (i32.add (local.get $m) (i32.const 1)))
      (br $mloop))))
  ;; ---------------------------------------------------------------------
  ;; pack: dst[k*ldd + n] = src[k*sk + n*sn] for k < K, n < N (strides in
  ;; elements): B made contiguous along n for gemm. The common case, a
  ;; transposed B (sk = 1: nn.Linear's x·Wᵀ), moves 4×4 tiles: four rows of
  ;; src read as vectors, transposed in registers by shuffles, stored as four
  ;; rows of dst. Everything else, and the edges, one value at a time.
  (func $pack (export "pack") (param $dst i32) (param $src i32) (param $K i32) (param $N i32) (param $sk i32) (param $sn i32) (param $ldd i32)
    (local $k i32) (local $n i32) (local $k0 i32) (local $k1 i32) (local $n0 i32) (local $n1 i32) (local $Kb i32) (local $Nb i32) (local $p i32) (local $q i32) (local $rs i32) (local $ds i32)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (if (i32.eq (local.get $sk) (i32.const 1)) (then
      (local.set $Kb (i32.and (local.get $K) (i32.const -4)))
      (local.set $Nb (i32.and (local.get $N) (i32.const -4)))
      (local.set $rs (i32.shl (local.get $sn) (i32.const 2)))
      (local.set $ds (i32.shl (local.get $ldd) (i32.const 2)))
      ;; 32×32 blocks (4 KB of src and of dst) keep both sides in L1 while
      ;; their 4×4 tiles move.
      (local.set $n0 (i32.const 0))
      (block $n0done (loop $n0loop
        (br_if $n0done (i32.ge_s (local.get $n0) (local.get $Nb)))
        (local.set $n1 (i32.add (local.get $n0) (i32.const 32)))
        (if (i32.gt_s (local.get $n1) (local.get $Nb)) (then (local.set $n1 (local.get $Nb))))
        (local.set $k0 (i32.const 0))
        (block $k0done (loop $k0loop
          (br_if $k0done (i32.ge_s (local.get $k0) (local.get $Kb)))
          (local.set $k1 (i32.add (local.get $k0) (i32.const 32)))
          (if (i32.gt_s (local.get $k1) (local.get $Kb)) (then (local.set $k1 (local.get $Kb))))
          (local.set $n (local.get $n0))
          (block $ndone (loop $nloop
            (br_if $ndone (i32.ge_s (local.get $n) (local.get $n1)))
            (local.set $k (local.get $k0))
            (block $kdone (loop $kloop
              (br_if $kdone (i32.ge_s (local.get $k) (local.get $k1)))
              ;; four rows of src (columns n..n+3 of B) at k..k+3
              (local.set $p (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $n) (local.get $sn)) (local.get $k)) (i32.const 2))))
              (local.set $r0 (v128.load (local.get $p)))
              (local.set $p (i32.add (local.get $p) (local.get $rs)))
              (local.set $r1 (v128.load (local.get $p)))
              (local.set $p (i32.add (local.get $p) (local.get $rs)))
              (local.set $r2 (v128.load (local.get $p)))
              (local.set $p (i32.add (local.get $p) (local.get $rs)))
              (local.set $r3 (v128.load (local.get $p)))
              (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (local.get $r1)))
              (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (local.get $r1)))
              (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (local.get $r3)))
              (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (local.get $r3)))
              (local.set $q (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $k) (local.get $ldd)) (local.get $n)) (i32.const 2))))
              (v128.store (local.get $q) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
              (local.set $q (i32.add (local.get $q) (local.get $ds)))
              (v128.store (local.get $q) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
              (local.set $q (i32.add (local.get $q) (local.get $ds)))
              (v128.store (local.get $q) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
              (local.set $q (i32.add (local.get $q) (local.get $ds)))
              (v128.store (local.get $q) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
              (local.set $k (i32.add (local.get $k) (i32.const 4)))
              (br $kloop)))
            (local.set $n (i32.add (local.get $n) (i32.const 4)))
            (br $nloop)))
          (local.set $k0 (local.get $k1))
          (br $k0loop)))
        (local.set $n0 (local.get $n1))
        (br $n0loop)))
      ;; edges: the k columns right of the tiles, then the n rows below them
      (call $packscalar (local.get $dst) (local.get $src) (local.get $Kb) (local.get $K) (i32.const 0) (local.get $Nb) (local.get $ldd) (local.get $sk) (local.get $sn))
      (call $packscalar (local.get $dst) (local.get $src) (i32.const 0) (local.get $K) (local.get $Nb) (local.get $N) (local.get $ldd) (local.get $sk) (local.get $sn))
      (return)))
    (call $packscalar (local.get $dst) (local.get $src) (i32.const 0) (local.get $K) (i32.const 0) (local.get $N) (local.get $ldd) (local.get $sk) (local.get $sn)))

  ;; packscalar is pack over k in [k0, k1), n in [n0, n1), one value at a time.
  (func $packscalar (param $dst i32) (param $src i32) (param $k0 i32) (param $k1 i32) (param $n0 i32) (param $n1 i32) (param $ldd i32) (param $sk i32) (param $sn i32)
    (local $k i32) (local $n i32)
    (local.set $k (local.get $k0))
    (block $kdone (loop $kloop
      (br_if $kdone (i32.ge_s (local.get $k) (local.get $k1)))
      (local.set $n (local.get $n0))
      (block $ndone (loop $nloop
        (br_if $ndone (i32.ge_s (local.get $n) (local.get $n1)))
        (f32.store
          (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $k) (local.get $ldd)) (local.get $n)) (i32.const 2)))
          (f32.load (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $k) (local.get $sk)) (i32.mul (local.get $n) (local.get $sn))) (i32.const 2)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $nloop)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $kloop))))

  ;; ---------------------------------------------------------------------
  ;; fused: runs a fused element-wise program (kernels/fuse.go) over $size
  ;; elements, a block of 256 at a time. Registers are 1 KB blocks at $regs
  ;; (register r at $regs + r*1024). The code is 18 i32 words an instruction:
  ;;   op, dst, a, b, c, addr, then four runs (div, mod, mul) of a pattern
  ;; where addr is the byte address of a load's input or a store's output
  ;; (or, for const, the value's bits), and a pattern load (a broadcast or a
  ;; transpose) has element i read input[Σ ((i/div)%mod)*mul]. Opcodes are
  ;; the order of kernels/fuse.go's Opcode constants.
  (func $fused (export "fused") (param $code i32) (param $ninstr i32) (param $regs i32) (param $size i32)
    (local $i0 i32) (local $n i32) (local $nv i32) (local $pc i32) (local $end i32) (local $op i32)
    (local $d i32) (local $a i32) (local $b i32) (local $c i32) (local $addr i32)
    (local.set $end (i32.add (local.get $code) (i32.mul (local.get $ninstr) (i32.const 72))))
    (block $done (loop $blocks
      (br_if $done (i32.ge_u (local.get $i0) (local.get $size)))
      (local.set $n (i32.sub (local.get $size) (local.get $i0)))
      (if (i32.gt_u (local.get $n) (i32.const 256)) (then (local.set $n (i32.const 256))))
      (local.set $nv (i32.shr_u (i32.add (local.get $n) (i32.const 3)) (i32.const 2)))
      (local.set $pc (local.get $code))
      (block $idone (loop $instrs
        (br_if $idone (i32.ge_u (local.get $pc) (local.get $end)))
        (local.set $op (i32.load (local.get $pc)))
        (local.set $d (i32.add (local.get $regs) (i32.shl (i32.load offset=4 (local.get $pc)) (i32.const 10))))
        (local.set $a (i32.add (local.get $regs) (i32.shl (i32.load offset=8 (local.get $pc)) (i32.const 10))))
        (local.set $b (i32.add (local.get $regs) (i32.shl (i32.load offset=12 (local.get $pc)) (i32.const 10))))
        (local.set $c (i32.add (local.get $regs) (i32.shl (i32.load offset=16 (local.get $pc)) (i32.const 10))))
        (local.set $addr (i32.load offset=20 (local.get $pc)))
        (block $next
          (block $storebool (block $store (block $const (block $loadbool (block $loadpattern (block $loadscalar (block $load
            (if (i32.gt_u (local.get $op) (i32.const 6)) (then
              (call $arith (local.get $op) (local.get $d) (local.get $a) (local.get $b) (local.get $c) (local.get $nv))
              (br $next)))
            (br_table $load $loadscalar $loadpattern $loadbool $const $store $storebool (local.get $op)))
            ;; load
            (call $copy (local.get $d) (i32.add (local.get $addr) (i32.shl (local.get $i0) (i32.const 2))) (local.get $n))
            (br $next))
            ;; loadscalar
            (call $splat (local.get $d) (f32x4.splat (f32.load (local.get $addr))) (local.get $nv))
            (br $next))
          ;; loadpattern
          (call $gather (local.get $d) (local.get $addr) (local.get $i0) (local.get $n) (i32.add (local.get $pc) (i32.const 24)))
          (br $next))
          ;; loadbool
          (call $loadbool (local.get $d) (i32.add (local.get $addr) (local.get $i0)) (local.get $n))
          (br $next))
          ;; const
          (call $splat (local.get $d) (f32x4.splat (f32.reinterpret_i32 (local.get $addr))) (local.get $nv))
          (br $next))
          ;; store
          (call $copy (i32.add (local.get $addr) (i32.shl (local.get $i0) (i32.const 2))) (local.get $b) (local.get $n))
          (br $next))
          ;; storebool
          (call $storebool (i32.add (local.get $addr) (local.get $i0)) (local.get $b) (local.get $n)))
        (local.set $pc (i32.add (local.get $pc) (i32.const 72)))
        (br $instrs)))
      (local.set $i0 (i32.add (local.get $i0) (i32.const 256)))
      (br $blocks))))

  ;; copy moves n floats from src to dst: vectors, then a scalar tail.
  (func $copy (param $dst i32) (param $src i32) (param $n i32)
    (local $e i32)
    (local.set $e (i32.add (local.get $src) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $vdone (loop $v
      (br_if $vdone (i32.ge_u (local.get $src) (local.get $e)))
      (v128.store (local.get $dst) (v128.load (local.get $src)))
      (local.set $src (i32.add (local.get $src) (i32.const 16)))
      (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
      (br $v)))
    (local.set $e (i32.add (local.get $e) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $sdone (loop $s
      (br_if $sdone (i32.ge_u (local.get $src) (local.get $e)))
      (f32.store (local.get $dst) (f32.load (local.get $src)))
      (local.set $src (i32.add (local.get $src) (i32.const 4)))
      (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
      (br $s))))

  (func $splat (param $dst i32) (param $v v128) (param $nv i32)
    (loop $l
      (v128.store (local.get $dst) (local.get $v))
      (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
      (br_if $l (local.tee $nv (i32.sub (local.get $nv) (i32.const 1))))))

  ;; gather loads n elements from i0 on along a pattern (four runs of div,
  ;; mod, mul at $pat, innermost first). It moves whole segments: where the
  ;; innermost run is contiguous in the output (div 1) the segment is the
  ;; rest of that run, copied as vectors when its operand stride is 1 (a
  ;; bias row, a transposed head) and strided otherwise; where it is not
  ;; (div > 1: the innermost output axes are broadcast) the segment is one
  ;; value repeated (a per-row statistic). Outer runs only turn over at
  ;; segment ends, since their divs are multiples of div·mod of the runs
  ;; inside them. Short segments go one element at a time ($gatherscalar).
  (func $gather (param $dst i32) (param $src i32) (param $i0 i32) (param $n i32) (param $pat i32)
    (local $d1 i32) (local $m1 i32) (local $s1 i32) (local $r1 i32) (local $k1 i32)
    (local $d2 i32) (local $m2 i32) (local $s2 i32) (local $r2 i32) (local $k2 i32)
    (local $d3 i32) (local $m3 i32) (local $s3 i32) (local $r3 i32) (local $k3 i32)
    (local $d4 i32) (local $m4 i32) (local $s4 i32) (local $r4 i32) (local $k4 i32)
    (local $len i32) (local $at i32) (local $t i32)
    (local.set $d1 (i32.load (local.get $pat))) (local.set $m1 (i32.load offset=4 (local.get $pat))) (local.set $s1 (i32.load offset=8 (local.get $pat)))
    (if (i32.lt_u (select (local.get $m1) (local.get $d1) (i32.eq (local.get $d1) (i32.const 1))) (i32.const 8)) (then
      (call $gatherscalar (local.get $dst) (local.get $src) (local.get $i0) (local.get $n) (local.get $pat))
      (return)))
    (local.set $d2 (i32.load offset=12 (local.get $pat))) (local.set $m2 (i32.load offset=16 (local.get $pat))) (local.set $s2 (i32.load offset=20 (local.get $pat)))
    (local.set $d3 (i32.load offset=24 (local.get $pat))) (local.set $m3 (i32.load offset=28 (local.get $pat))) (local.set $s3 (i32.load offset=32 (local.get $pat)))
    (local.set $d4 (i32.load offset=36 (local.get $pat))) (local.set $m4 (i32.load offset=40 (local.get $pat))) (local.set $s4 (i32.load offset=44 (local.get $pat)))
    (local.set $r1 (i32.rem_u (local.get $i0) (local.get $d1)))
    (local.set $k1 (i32.rem_u (i32.div_u (local.get $i0) (local.get $d1)) (local.get $m1)))
    (local.set $r2 (i32.rem_u (local.get $i0) (local.get $d2)))
    (local.set $k2 (i32.rem_u (i32.div_u (local.get $i0) (local.get $d2)) (local.get $m2)))
    (local.set $r3 (i32.rem_u (local.get $i0) (local.get $d3)))
    (local.set $k3 (i32.rem_u (i32.div_u (local.get $i0) (local.get $d3)) (local.get $m3)))
    (local.set $r4 (i32.rem_u (local.get $i0) (local.get $d4)))
    (local.set $k4 (i32.rem_u (i32.div_u (local.get $i0) (local.get $d4)) (local.get $m4)))
    (loop $seg
      (local.set $at (i32.add (local.get $src) (i32.shl
        (i32.add
          (i32.add (i32.mul (local.get $k1) (local.get $s1)) (i32.mul (local.get $k2) (local.get $s2)))
          (i32.add (i32.mul (local.get $k3) (local.get $s3)) (i32.mul (local.get $k4) (local.get $s4))))
        (i32.const 2))))
      (if (i32.eq (local.get $d1) (i32.const 1))
        (then
          (local.set $len (i32.sub (local.get $m1) (local.get $k1)))
          (if (i32.gt_u (local.get $len) (local.get $n)) (then (local.set $len (local.get $n))))
          (if (i32.eq (local.get $s1) (i32.const 1))
            (then (call $copy (local.get $dst) (local.get $at) (local.get $len)))
            (else
              (local.set $t (i32.const 0))
              (loop $strided
                (f32.store (i32.add (local.get $dst) (i32.shl (local.get $t) (i32.const 2)))
                  (f32.load (i32.add (local.get $at) (i32.shl (i32.mul (local.get $t) (local.get $s1)) (i32.const 2)))))
                (br_if $strided (i32.lt_u (local.tee $t (i32.add (local.get $t) (i32.const 1))) (local.get $len))))))
          (local.set $k1 (i32.add (local.get $k1) (local.get $len)))
          (if (i32.eq (local.get $k1) (local.get $m1)) (then (local.set $k1 (i32.const 0)))))
        (else
          (local.set $len (i32.sub (local.get $d1) (local.get $r1)))
          (if (i32.gt_u (local.get $len) (local.get $n)) (then (local.set $len (local.get $n))))
          (call $fill (local.get $dst) (f32.load (local.get $at)) (local.get $len))
          (local.set $r1 (i32.add (local.get $r1) (local.get $len)))
          (if (i32.eq (local.get $r1) (local.get $d1)) (then
            (local.set $r1 (i32.const 0))
            (if (i32.eq (local.tee $k1 (i32.add (local.get $k1) (i32.const 1))) (local.get $m1)) (then (local.set $k1 (i32.const 0))))))))
      ;; the outer runs move on by len (at most to their next turn)
      (if (i32.ge_u (local.tee $r2 (i32.add (local.get $r2) (local.get $len))) (local.get $d2)) (then
        (local.set $r2 (i32.sub (local.get $r2) (local.get $d2)))
        (if (i32.eq (local.tee $k2 (i32.add (local.get $k2) (i32.const 1))) (local.get $m2)) (then (local.set $k2 (i32.const 0))))))
      (if (i32.ge_u (local.tee $r3 (i32.add (local.get $r3) (local.get $len))) (local.get $d3)) (then
        (local.set $r3 (i32.sub (local.get $r3) (local.get $d3)))
        (if (i32.eq (local.tee $k3 (i32.add (local.get $k3) (i32.const 1))) (local.get $m3)) (then (local.set $k3 (i32.const 0))))))
      (if (i32.ge_u (local.tee $r4 (i32.add (local.get $r4) (local.get $len))) (local.get $d4)) (then
        (local.set $r4 (i32.sub (local.get $r4) (local.get $d4)))
        (if (i32.eq (local.tee $k4 (i32.add (local.get $k4) (i32.const 1))) (local.get $m4)) (then (local.set $k4 (i32.const 0))))))
      (local.set $dst (i32.add (local.get $dst) (i32.shl (local.get $len) (i32.const 2))))
      (br_if $seg (local.tee $n (i32.sub (local.get $n) (local.get $len))))))

  ;; fill stores v n times: vectors, then a scalar tail.
  (func $fill (param $dst i32) (param $v f32) (param $n i32)
    (local $e i32) (local $vv v128)
    (local.set $vv (f32x4.splat (local.get $v)))
    (local.set $e (i32.add (local.get $dst) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $vdone (loop $l
      (br_if $vdone (i32.ge_u (local.get $dst) (local.get $e)))
      (v128.store (local.get $dst) (local.get $vv))
      (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
      (br $l)))
    (local.set $e (i32.add (local.get $e) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $sdone (loop $s
      (br_if $sdone (i32.ge_u (local.get $dst) (local.get $e)))
      (f32.store (local.get $dst) (local.get $v))
      (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
      (br $s))))

  ;; gatherscalar is gather one element at a time, stepping a (remainder,
  ;; quotient mod m) counter pair per run instead of dividing per element.
    (func $gatherscalar (param $dst i32) (param $src i32) (param $i0 i32) (param $n i32) (param $pat i32)
    (local $d1 i32) (local $m1 i32) (local $s1 i32) (local $r1 i32) (local $k1 i32)
    (local $d2 i32) (local $m2 i32) (local $s2 i32) (local $r2 i32) (local $k2 i32)
    (local $d3 i32) (local $m3 i32) (local $s3 i32) (local $r3 i32) (local $k3 i32)
    (local $d4 i32) (local $m4 i32) (local $s4 i32) (local $r4 i32) (local $k4 i32)
    (local.set $d1 (i32.load (local.get $pat))) (local.set $m1 (i32.load offset=4 (local.get $pat))) (local.set $s1 (i32.load offset=8 (local.get $pat)))
    (local.set $d2 (i32.load offset=12 (local.get $pat))) (local.set $m2 (i32.load offset=16 (local.get $pat))) (local.set $s2 (i32.load offset=20 (local.get $pat)))
    (local.set $d3 (i32.load offset=24 (local.get $pat))) (local.set $m3 (i32.load offset=28 (local.get $pat))) (local.set $s3 (i32.load offset=32 (local.get $pat)))
    (local.set $d4 (i32.load offset=36 (local.get $pat))) (local.set $m4 (i32.load offset=40 (local.get $pat))) (local.set $s4 (i32.load offset=44 (local.get $pat)))
    (local.set $r1 (i32.rem_u (local.get $i0) (local.get $d1)))
    (local.set $k1 (i32.rem_u (i32.div_u (local.get $i0) (local.get $d1)) (local.get $m1)))
    (local.set $r2 (i32.rem_u (local.get $i0) (local.get $d2)))
    (local.set $k2 (i32.rem_u (i32.div_u (local.get $i0) (local.get $d2)) (local.get $m2)))
    (local.set $r3 (i32.rem_u (local.get $i0) (local.get $d3)))
    (local.set $k3 (i32.rem_u (i32.div_u (local.get $i0) (local.get $d3)) (local.get $m3)))
    (local.set $r4 (i32.rem_u (local.get $i0) (local.get $d4)))
    (local.set $k4 (i32.rem_u (i32.div_u (local.get $i0) (local.get $d4)) (local.get $m4)))
    (loop $l
      (f32.store (local.get $dst) (f32.load (i32.add (local.get $src) (i32.shl
        (i32.add
          (i32.add (i32.mul (local.get $k1) (local.get $s1)) (i32.mul (local.get $k2) (local.get $s2)))
          (i32.add (i32.mul (local.get $k3) (local.get $s3)) (i32.mul (local.get $k4) (local.get $s4))))
        (i32.const 2)))))
      (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
      (if (i32.eq (local.tee $r1 (i32.add (local.get $r1) (i32.const 1))) (local.get $d1)) (then
        (local.set $r1 (i32.const 0))
        (if (i32.eq (local.tee $k1 (i32.add (local.get $k1) (i32.const 1))) (local.get $m1)) (then (local.set $k1 (i32.const 0))))))
      (if (i32.eq (local.tee $r2 (i32.add (local.get $r2) (i32.const 1))) (local.get $d2)) (then
        (local.set $r2 (i32.const 0))
        (if (i32.eq (local.tee $k2 (i32.add (local.get $k2) (i32.const 1))) (local.get $m2)) (then (local.set $k2 (i32.const 0))))))
      (if (i32.eq (local.tee $r3 (i32.add (local.get $r3) (i32.const 1))) (local.get $d3)) (then
        (local.set $r3 (i32.const 0))
        (if (i32.eq (local.tee $k3 (i32.add (local.get $k3) (i32.const 1))) (local.get $m3)) (then (local.set $k3 (i32.const 0))))))
      (if (i32.eq (local.tee $r4 (i32.add (local.get $r4) (i32.const 1))) (local.get $d4)) (then
        (local.set $r4 (i32.const 0))
        (if (i32.eq (local.tee $k4 (i32.add (local.get $k4) (i32.const 1))) (local.get $m4)) (then (local.set $k4 (i32.const 0))))))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))

  ;; Go's bool is one byte, 0 or 1.
  (func $loadbool (param $dst i32) (param $src i32) (param $n i32)
    (loop $l
      (f32.store (local.get $dst) (f32.convert_i32_u (i32.load8_u (local.get $src))))
      (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
      (local.set $src (i32.add (local.get $src) (i32.const 1)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))

  (func $storebool (param $dst i32) (param $src i32) (param $n i32)
    (loop $l
      (i32.store8 (local.get $dst) (f32.ne (f32.load (local.get $src)) (f32.const 0)))
      (local.set $dst (i32.add (local.get $dst) (i32.const 1)))
      (local.set $src (i32.add (local.get $src) (i32.const 4)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))

  ;; arith runs one arithmetic instruction (opcodes 7…26) over nv vectors:
  ;; d ← a op b (or, for where, a ≠ 0 ? b : c). The dispatch inside the loop
  ;; is one predictable indirect branch per four elements.
;; arith runs one instruction over nv vectors: one dispatch, then that
  ;; op's own loop (a dispatch per vector cost more than the ops).
  (func $arith (param $op i32) (param $d i32) (param $a i32) (param $b i32) (param $c i32) (param $nv i32)
    (local $i i32) (local $end i32) (local $x v128) (local $one v128)
    (local.set $one (f32x4.splat (f32.const 1)))
    (local.set $end (i32.shl (local.get $nv) (i32.const 4)))
    (block $where (block $ne (block $eq (block $lt (block $le (block $gt (block $ge (block $sign (block $erf (block $exp (block $rsqrt (block $sqrt (block $abs (block $neg (block $max (block $min (block $div (block $mul (block $sub (block $add 
      (br_table $add $sub $mul $div $min $max $neg $abs $sqrt $rsqrt $exp $erf $sign $ge $gt $le $lt $eq $ne $where $where (i32.sub (local.get $op) (i32.const 7))))
    ;; add
    (loop $Ladd
      (v128.store (i32.add (local.get $d) (local.get $i)) (f32x4.add (v128.load (i32.add (local.get $a) (local.get $i))) (v128.load (i32.add (local.get $b) (local.get $i)))))
      (br_if $Ladd (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $end))))
    (return))
    ;; sub
    (loop $Lsub
      (v128.store (i32.add (local.get $d) (local.get $i)) (f32x4.sub (v128.load (i32.add (local.get $a) (local.get $i))) (v128.load (i32.add (local.get $b) (local.get $i)))))
      (br_if $Lsub (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $end))))
    (return))
    ;; mul
    (loop $Lmul
      (v128.store (i32.add (local.get $d) (local.get $i)) (f32x4.mul (v128.load (i32.add (local.get $a) (local.get $i))) (v128.load (i32.add (local.get $b) (local.get $i)))))
      (br_if $Lmul (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $end))))
    (return))
    ;; div
    (loop $Ldiv
      (v128.store (i32.add (local.get $d) (local.get $i)) (f32x4.div (v128.load (i32.add (local.get $a) (local.get $i))) (v128.load (i32.add (local.get $b) (local.get $i)))))
      (br_if $Ldiv (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $end))))
    (return))
    ;; min
    (loop $Lmin
      (v128.store (i32.add (local.get $d) (local.get $i)) (f32x4.min (v128.load (i32.add (local.get $a) (local.get $i))) (v128.load (i32.add (local.get $b) (local.get $i)))))
      (br_if $Lmin (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $end))))
    (return))
    ;; max
    (loop $Lmax
      (v128.store (i32.add (local.get $d) (local.get $i)) (f32x4.max (v128.load (i32.add (local.get $a) (local.get $i))) (v128.load (i32.add (local.get $b) (local.get $i)))))
      (br_if $Lmax (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $end))))
    (return))
    ;; neg
    (loop $Lneg
      (v128.store (i32.add (local.get $d) (local.get $i)) (f32x4.neg (v128.load (i32.add (local.get $a) (local.get $i)))))
      (br_if $Lneg (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $end))))
    (return))
    ;; abs
    (loop $Labs
      (v128.store (i32.add (local.get $d) (local.get $i)) (f32x4.abs (v128.load (i32.add (local.get $a) (local.get $i)))))
      (br_if $Labs (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $end))))
    (return))
    ;; sqrt
    (loop $Lsqrt
      (v128.store (i32.add (local.get $d) (local.get $i)) (f32x4.sqrt (v128.load (i32.add (local.get $a) (local.get $i)))))
      (br_if $Lsqrt (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $end))))
    (return))
    ;; rsqrt
    (loop $Lrsqrt
      (v128.store (i32.add (local.get $d) (local.get $i)) (f32x4.div (local.get $one) (f32x4.sqrt (v128.load (i32.add (local.get $a) (local.get $i))))))
      (br_if $Lrsqrt (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $end))))
    (return))
    ;; exp
    (loop $Lexp
      (v128.store (i32.add (local.get $d) (local.get $i)) (call $exp (v128.load (i32.add (local.get $a) (local.get $i)))))
      (br_if $Lexp (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $end))))
    (return))
    ;; erf
    (loop $Lerf
      (v128.store (i32.add (local.get $d) (local.get $i)) (call $erf (v128.load (i32.add (local.get $a) (local.get $i)))))
      (br_if $Lerf (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $end))))
    (return))
    ;; sign
    (loop $Lsign
      (v128.store (i32.add (local.get $d) (local.get $i)) (f32x4.sub (v128.and (f32x4.gt (local.tee $x (v128.load (i32.add (local.get $a) (local.get $i)))) (f32x4.splat (f32.const 0))) (local.get $one)) (v128.and (f32x4.lt (local.get $x) (f32x4.splat (f32.const 0))) (local.get $one))))
      (br_if $Lsign (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $end))))
    (return))
    ;; ge
    (loop $Lge
      (v128.store (i32.add (local.get $d) (local.get $i)) (v128.and (f32x4.ge (v128.load (i32.add (local.get $a) (local.get $i))) (v128.load (i32.add (local.get $b) (local.get $i)))) (local.get $one)))
      (br_if $Lge (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $end))))
    (return))
    ;; gt
    (loop $Lgt
      (v128.store (i32.add (local.get $d) (local.get $i)) (v128.and (f32x4.gt (v128.load (i32.add (local.get $a) (local.get $i))) (v128.load (i32.add (local.get $b) (local.get $i)))) (local.get $one)))
      (br_if $Lgt (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $end))))
    (return))
    ;; le
    (loop $Lle
      (v128.store (i32.add (local.get $d) (local.get $i)) (v128.and (f32x4.le (v128.load (i32.add (local.get $a) (local.get $i))) (v128.load (i32.add (local.get $b) (local.get $i)))) (local.get $one)))
      (br_if $Lle (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $end))))
    (return))
    ;; lt
    (loop $Llt
      (v128.store (i32.add (local.get $d) (local.get $i)) (v128.and (f32x4.lt (v128.load (i32.add (local.get $a) (local.get $i))) (v128.load (i32.add (local.get $b) (local.get $i)))) (local.get $one)))
      (br_if $Llt (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $end))))
    (return))
    ;; eq
    (loop $Leq
      (v128.store (i32.add (local.get $d) (local.get $i)) (v128.and (f32x4.eq (v128.load (i32.add (local.get $a) (local.get $i))) (v128.load (i32.add (local.get $b) (local.get $i)))) (local.get $one)))
      (br_if $Leq (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $end))))
    (return))
    ;; ne
    (loop $Lne
      (v128.store (i32.add (local.get $d) (local.get $i)) (v128.and (f32x4.ne (v128.load (i32.add (local.get $a) (local.get $i))) (v128.load (i32.add (local.get $b) (local.get $i)))) (local.get $one)))
      (br_if $Lne (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $end))))
    (return))
    ;; where
    (loop $Lwhere
      (v128.store (i32.add (local.get $d) (local.get $i)) (v128.bitselect (v128.load (i32.add (local.get $b) (local.get $i))) (v128.load (i32.add (local.get $c) (local.get $i))) (f32x4.ne (v128.load (i32.add (local.get $a) (local.get $i))) (f32x4.splat (f32.const 0)))))
      (br_if $Lwhere (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $end))))
    (return)
  )

  ;; ---------------------------------------------------------------------
  ;; rows: the row reductions of kernels.Reduction on a row-major [rows,
  ;; cols] x: op 0 y[r] = Σ x[r, ·]; op 1 y[r] = max x[r, ·]; op 2 y[r, ·] =
  ;; softmax(x[r, ·]) = exp(x − max) / Σ exp(x − max). Four lanes fold a
  ;; row (then a scalar tail), and the lanes are combined at the end.
  (func $rows (export "rows") (param $x i32) (param $y i32) (param $R i32) (param $C i32) (param $op i32)
    (local $r i32) (local $p i32) (local $e i32) (local $ev i32) (local $q i32)
    (local $acc v128) (local $m v128) (local $s f32) (local $mx f32) (local $inv v128)
    (local.set $r (i32.const 0))
    (block $rdone (loop $rloop
      (br_if $rdone (i32.ge_u (local.get $r) (local.get $R)))
      (local.set $p (i32.add (local.get $x) (i32.shl (i32.mul (local.get $r) (local.get $C)) (i32.const 2))))
      (local.set $e (i32.add (local.get $p) (i32.shl (local.get $C) (i32.const 2))))
      (local.set $ev (i32.add (local.get $p) (i32.shl (i32.and (local.get $C) (i32.const -4)) (i32.const 2))))
      (if (i32.eqz (local.get $op))
        (then
          ;; sum
          (local.set $acc (v128.const i32x4 0 0 0 0))
          (local.set $q (local.get $p))
          (block $d (loop $l
            (br_if $d (i32.ge_u (local.get $q) (local.get $ev)))
            (local.set $acc (f32x4.add (local.get $acc) (v128.load (local.get $q))))
            (local.set $q (i32.add (local.get $q) (i32.const 16)))
            (br $l)))
          (local.set $s (call $hsum (local.get $acc)))
          (block $d (loop $l
            (br_if $d (i32.ge_u (local.get $q) (local.get $e)))
            (local.set $s (f32.add (local.get $s) (f32.load (local.get $q))))
            (local.set $q (i32.add (local.get $q) (i32.const 4)))
            (br $l)))
          (f32.store (i32.add (local.get $y) (i32.shl (local.get $r) (i32.const 2))) (local.get $s)))
        (else
          ;; max (for softmax too)
          (local.set $m (f32x4.splat (f32.const -inf)))
          (local.set $q (local.get $p))
          (block $d (loop $l
            (br_if $d (i32.ge_u (local.get $q) (local.get $ev)))
            (local.set $m (f32x4.max (local.get $m) (v128.load (local.get $q))))
            (local.set $q (i32.add (local.get $q) (i32.const 16)))
            (br $l)))
          (local.set $mx (f32.max
            (f32.max (f32x4.extract_lane 0 (local.get $m)) (f32x4.extract_lane 1 (local.get $m)))
            (f32.max (f32x4.extract_lane 2 (local.get $m)) (f32x4.extract_lane 3 (local.get $m)))))
          (block $d (loop $l
            (br_if $d (i32.ge_u (local.get $q) (local.get $e)))
            (local.set $mx (f32.max (local.get $mx) (f32.load (local.get $q))))
            (local.set $q (i32.add (local.get $q) (i32.const 4)))
            (br $l)))
          (if (i32.eq (local.get $op) (i32.const 1))
            (then (f32.store (i32.add (local.get $y) (i32.shl (local.get $r) (i32.const 2))) (local.get $mx)))
            (else
              ;; softmax: e = exp(x − max) into y's row, its sum, then e / sum
              (call $softmaxrow (local.get $p) (i32.add (local.get $y) (i32.sub (local.get $p) (local.get $x)))
                (local.get $C) (local.get $mx))))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rloop))))

  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; softmaxrow writes softmax(x[0..n)) given its max to y[0..n). The tail
  ;; goes through $exp too, one lane used, so every value is computed alike.
  (func $softmaxrow (param $x i32) (param $y i32) (param $n i32) (param $mx f32)
    (local $i i32) (local $nv i32) (local $acc v128) (local $mv v128) (local $s f32) (local $sv v128) (local $t f32)
    (local.set $mv (f32x4.splat (local.get $mx)))
    (local.set $nv (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (local.set $acc (v128.const i32x4 0 0 0 0))
    (local.set $i (i32.const 0))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $i) (local.get $nv)))
      (v128.store (i32.add (local.get $y) (local.get $i))
        (local.tee $sv (call $exp (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $i))) (local.get $mv)))))
      (local.set $acc (f32x4.add (local.get $acc) (local.get $sv)))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $l)))
    (local.set $s (call $hsum (local.get $acc)))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $i) (i32.shl (local.get $n) (i32.const 2))))
      (local.set $t (f32x4.extract_lane 0 (call $exp (f32x4.splat (f32.sub (f32.load (i32.add (local.get $x) (local.get $i))) (local.get $mx))))))
      (f32.store (i32.add (local.get $y) (local.get $i)) (local.get $t))
      (local.set $s (f32.add (local.get $s) (local.get $t)))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $l)))
    (local.set $sv (f32x4.splat (local.get $s)))
    (local.set $i (i32.const 0))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $i) (local.get $nv)))
      (v128.store (i32.add (local.get $y) (local.get $i)) (f32x4.div (v128.load (i32.add (local.get $y) (local.get $i))) (local.get $sv)))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $l)))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $i) (i32.shl (local.get $n) (i32.const 2))))
      (f32.store (i32.add (local.get $y) (local.get $i)) (f32.div (f32.load (i32.add (local.get $y) (local.get $i))) (local.get $s)))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $l))))

  ;; exp: e^x = 2^n · e^r with n = round(x·log2 e), r = x − n·ln 2 (ln 2 in
  ;; two parts, so r keeps its precision), e^r by its Taylor series to r⁶
  ;; (|r| ≤ ln2/2: error below 2e-7 relative), 2^n built in the exponent bits.
  ;; x is clamped to the normal range; NaN stays NaN.
  (func $exp (param $x v128) (result v128)
    (local $n v128) (local $r v128) (local $p v128)
    (local.set $x (f32x4.max (f32x4.min (local.get $x) (f32x4.splat (f32.const 88.3762626647949)))
                             (f32x4.splat (f32.const -87.3365478515625))))
    (local.set $n (f32x4.nearest (f32x4.mul (local.get $x) (f32x4.splat (f32.const 1.44269504088896341)))))
    (local.set $r (f32x4.sub (f32x4.sub (local.get $x) (f32x4.mul (local.get $n) (f32x4.splat (f32.const 0.693359375))))
                             (f32x4.mul (local.get $n) (f32x4.splat (f32.const -2.12194440e-4)))))
    (local.set $p (f32x4.splat (f32.const 1.388888888888889e-3))) ;; 1/720
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 8.333333333333333e-3))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 4.1666666666666664e-2))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 0.16666666666666666))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 0.5))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 1))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 1))))
    (f32x4.mul (local.get $p)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (i32x4.splat (i32.const 127))) (i32.const 23))))

  ;; erf by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7):
  ;; erf|x| = 1 − t·(a1 + t·(a2 + t·(a3 + t·(a4 + t·a5))))·e^(−x²),
  ;; t = 1/(1 + p|x|); the sign of x is put back.
  (func $erf (param $x v128) (result v128)
    (local $ax v128) (local $t v128) (local $p v128)
    (local.set $ax (f32x4.abs (local.get $x)))
    (local.set $t (f32x4.div (f32x4.splat (f32.const 1))
      (f32x4.add (f32x4.splat (f32.const 1)) (f32x4.mul (local.get $ax) (f32x4.splat (f32.const 0.3275911))))))
    (local.set $p (f32x4.splat (f32.const 1.061405429)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t)) (f32x4.splat (f32.const -1.453152027))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t)) (f32x4.splat (f32.const 1.421413741))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t)) (f32x4.splat (f32.const -0.284496736))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t)) (f32x4.splat (f32.const 0.254829592))))
    (local.set $p (f32x4.sub (f32x4.splat (f32.const 1))
      (f32x4.mul (f32x4.mul (local.get $p) (local.get $t))
        (call $exp (f32x4.neg (f32x4.mul (local.get $ax) (local.get $ax)))))))
    (v128.or (local.get $p) (v128.and (local.get $x) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000))))
)
