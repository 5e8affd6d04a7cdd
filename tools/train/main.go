// Command train fine-tunes a LoRA adapter for a DistilBERT classifier on the
// command line, with the same trainer the web page runs.
//
//	go run ./tools/train -model DIR -train FILE[,FILE...] -eval FILE -out DIR
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/gomlx/compute"

	"github.com/webtune/webtune/kernels"
	"github.com/webtune/webtune/model/checkpoint"
	"github.com/webtune/webtune/model/dataset"
	"github.com/webtune/webtune/model/metrics"
	"github.com/webtune/webtune/model/peft"
	"github.com/webtune/webtune/model/safetensors"
	"github.com/webtune/webtune/model/train"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "train:", err)
		os.Exit(1)
	}
}

func run() error {
	d := train.Defaults()
	modelDir := flag.String("model", "", "base model folder (config.json, model.safetensors, tokenizer.json or vocab.txt)")
	trainFiles := flag.String("train", "", "training data: comma-separated .tsv/.csv/.jsonl/.parquet files (shards concatenate)")
	evalFile := flag.String("eval", "", "evaluation data (default: hold out -eval-split of the training data)")
	evalSplit := flag.Float64("eval-split", 0.1, "fraction of training rows held out when -eval is not given")
	out := flag.String("out", "", "output folder for adapter_config.json, adapter_model.safetensors, metrics.json")
	r := flag.Int("r", d.LoRA.R, "LoRA rank")
	alpha := flag.Float64("alpha", d.LoRA.Alpha, "LoRA alpha")
	dropout := flag.Float64("dropout", d.LoRA.Dropout, "LoRA dropout")
	rslora := flag.Bool("rslora", false, "scale by alpha/sqrt(r) (rsLoRA)")
	targets := flag.String("targets", strings.Join(d.LoRA.TargetModules, ","), "LoRA target modules: q_lin,k_lin,v_lin,out_lin,lin1,lin2")
	lr := flag.Float64("lr", d.LR, "peak learning rate")
	batch := flag.Int("batch", d.Batch, "batch size")
	maxLen := flag.Int("max-len", d.MaxLen, "maximum sequence length in tokens, [CLS] and [SEP] included")
	epochs := flag.Int("epochs", d.Epochs, "epochs")
	steps := flag.Int("steps", -1, "optimizer steps (overrides -epochs; 0 with -adapter only evaluates)")
	seed := flag.Uint64("seed", d.Seed, "seed for initialisation, shuffling and dropout")
	warmup := flag.Float64("warmup", d.WarmupRatio, "warm-up fraction of the steps")
	evalEvery := flag.Int("eval-every", 0, "evaluate every N steps (0: at the end)")
	ckptEvery := flag.Int("checkpoint-every", 200, "save the training state every N steps (and on Ctrl-C)")
	resume := flag.String("resume", "", "resume from a training state file (OUT/train_state.safetensors)")
	adapterDir := flag.String("adapter", "", "start from (or with -steps 0, only evaluate) a PEFT adapter folder")
	merged := flag.Bool("merged", false, "also write the merged model (W + scale·B·A) as merged/model.safetensors")
	backendName := flag.String("backend", "go", "compute backend: go (GoMLX's pure Go) or webtune (GoMLX's products, with our fused element-wise programs and row reductions on every core)")
	predictions := flag.String("predictions", "", "also write the fine-tuned model's logits on the evaluation rows (JSON: ids, logits, labels per row, in file order)")
	labelNames := flag.String("labels", strings.Join(dataset.SST2Labels, ","), "class names in id order; files may give labels as ids or names")
	flag.Parse()

	if *modelDir == "" || *out == "" || (*trainFiles == "" && *evalFile == "") {
		flag.Usage()
		return errors.New("-model, -out and -train (or -eval with -adapter and -steps 0) are required")
	}
	opts := d
	opts.LoRA.R, opts.LoRA.Alpha, opts.LoRA.Dropout, opts.LoRA.UseRSLoRA = *r, *alpha, *dropout, *rslora
	opts.LoRA.TargetModules = strings.Split(*targets, ",")
	opts.LR, opts.Batch, opts.MaxLen, opts.Epochs, opts.Seed, opts.WarmupRatio, opts.EvalEvery = *lr, *batch, *maxLen, *epochs, *seed, *warmup, *evalEvery
	if *steps > 0 {
		opts.MaxSteps = *steps
	}
	opts.NumLabels = len(strings.Split(*labelNames, ","))
	evalOnly := *steps == 0

	src := checkpoint.Dir(*modelDir)
	base, err := checkpoint.Load(src, filepath.Base(filepath.Clean(*modelDir)))
	if err != nil {
		return err
	}
	tok, err := checkpoint.LoadTokenizer(src)
	if err != nil {
		return err
	}
	if err := base.CheckTokenizer(tok); err != nil {
		return fmt.Errorf("%s: %w", *modelDir, err)
	}
	var adapter *peft.Adapter
	if *adapterDir != "" {
		if adapter, err = readAdapter(base, *adapterDir, opts.NumLabels); err != nil {
			return err
		}
		opts.LoRA = adapter.LoRA
	}
	var resumeState []byte
	if *resume != "" {
		if resumeState, err = os.ReadFile(*resume); err != nil {
			return err
		}
		if opts, err = train.StateOptions(resumeState); err != nil {
			return err
		}
	}

	labels := dataset.Labels(strings.Split(*labelNames, ","))
	if len(labels) < 2 {
		return errors.New("-labels needs at least two class names")
	}
	var trainSet, evalSet *train.Encoded
	if *trainFiles != "" && !evalOnly {
		ex, err := readFiles(strings.Split(*trainFiles, ","), labels)
		if err != nil {
			return err
		}
		if trainSet, err = train.Encode(tok, ex, opts.MaxLen); err != nil {
			return err
		}
	}
	if *evalFile != "" {
		ex, err := readFiles([]string{*evalFile}, labels)
		if err != nil {
			return err
		}
		if evalSet, err = train.Encode(tok, ex, opts.MaxLen); err != nil {
			return err
		}
	} else if trainSet != nil {
		if err := train.CheckFraction(*evalSplit); err != nil {
			return fmt.Errorf("-eval-split: %w", err)
		}
		trainSet, evalSet = trainSet.Split(*evalSplit, opts.Seed)
	}
	if evalSet == nil || evalSet.Len() == 0 {
		return errors.New("no evaluation rows: give -eval or a positive -eval-split")
	}

	var backend compute.Backend
	if backend, err = train.NewCPUBackend(); err != nil {
		return err
	}
	switch *backendName {
	case "go":
	case "webtune":
		backend = kernels.New(backend, &kernels.Parallel{Inner: backend})
	default:
		return fmt.Errorf("-backend %q: expected go or webtune", *backendName)
	}
	tr, err := train.New(backend, base, opts)
	if err != nil {
		return err
	}
	fmt.Printf("model %s: %d layers, dim %d; LoRA r=%d alpha=%g on %v\n", base.Name, base.Config.NLayers, base.Config.Dim, opts.LoRA.R, opts.LoRA.Alpha, opts.LoRA.TargetModules)
	fmt.Printf("trainable params: %d of %d (%.2f%%)\n", tr.TrainableParams(), tr.TotalParams(), 100*float64(tr.TrainableParams())/float64(tr.TotalParams()))

	before, err := tr.Evaluate(evalSet)
	if err != nil {
		return err
	}
	if adapter != nil {
		if err := tr.SetAdapter(adapter); err != nil {
			return err
		}
	}
	if resumeState != nil {
		if err := tr.LoadState(resumeState); err != nil {
			return err
		}
		fmt.Printf("resumed at step %d\n", tr.Step)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	statePath := filepath.Join(*out, "train_state.safetensors")
	saveState := func() error {
		var buf bytes.Buffer
		if err := tr.SaveState(&buf); err != nil {
			return err
		}
		return writeAtomic(statePath, buf.Bytes())
	}

	start := time.Now()
	var lastLoss, trainSec float64
	var lastProgress train.Progress
	stopped := false
	if !evalOnly {
		if trainSet == nil {
			return errors.New("-train is required unless -steps 0")
		}
		ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
		defer cancel()
		fmt.Printf("training on %d rows (%d tokens), evaluating on %d; %d steps\n", trainSet.Len(), trainSet.Tokens, evalSet.Len(), tr.TotalSteps(trainSet.Len()))
		bar := newBar(os.Stderr)
		// Step time without evaluations: the steps whose report carries none.
		last, stepSec, timedSteps := time.Now(), 0.0, 0
		err = tr.Train(ctx, trainSet, evalSet, func(p train.Progress) {
			lastLoss, lastProgress = p.Loss, p
			if p.Eval == nil {
				stepSec += time.Since(last).Seconds()
				timedSteps++
			}
			last = time.Now()
			bar.update(p)
			if p.Eval != nil {
				bar.line(fmt.Sprintf("step %d: eval loss %.4f accuracy %.4f F1 %.4f", p.Step, p.Eval.Loss, p.Eval.Accuracy, p.Eval.F1))
			}
			if *ckptEvery > 0 && p.Step%*ckptEvery == 0 {
				if err := saveState(); err != nil {
					bar.line("warning: saving training state: " + err.Error())
				}
			}
		})
		bar.done()
		if timedSteps > 0 {
			trainSec = stepSec / float64(timedSteps)
		}
		if errors.Is(err, train.ErrStopped) {
			stopped = true
			fmt.Printf("stopped at step %d; resume with -resume %s\n", tr.Step, statePath)
		} else if err != nil {
			return err
		}
		if err := saveState(); err != nil {
			return err
		}
	}
	after, err := tr.Evaluate(evalSet)
	if err != nil {
		return err
	}
	if *predictions != "" {
		if err := writePredictions(*predictions, tr, evalSet); err != nil {
			return err
		}
	}
	a := tr.Adapter()
	cfgJSON, weights, err := a.Write()
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(*out, peft.ConfigFile), cfgJSON); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(*out, peft.WeightsFile), weights); err != nil {
		return err
	}
	if *merged {
		if err := writeMerged(base, a, labels, filepath.Join(*out, "merged")); err != nil {
			return err
		}
	}
	m := map[string]any{
		"eval_accuracy_before": before.Accuracy, "eval_f1_before": before.F1, "eval_loss_before": before.Loss,
		"eval_accuracy": after.Accuracy, "eval_f1": after.F1, "eval_loss": after.Loss,
		"eval_precision": after.Precision, "eval_recall": after.Recall, "eval_confusion": after.Confusion, "eval_rows": after.N,
		"train_steps": tr.Step, "train_loss_last": lastLoss, "train_runtime_s": time.Since(start).Seconds(), "stopped": stopped,
		"train_seconds_per_step": trainSec, "train_tokens_per_sec": lastProgress.TokensPerSec, "train_padded_tokens_per_sec": lastProgress.PaddedPerSec,
		"micro_batch":      tr.MicroBatch(),
		"trainable_params": tr.TrainableParams(), "total_params": tr.TotalParams(), "options": opts,
	}
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil { // a metric that is not a number (NaN logits): never an empty file
		return fmt.Errorf("metrics.json: %v", err)
	}
	if err := writeAtomic(filepath.Join(*out, "metrics.json"), mj); err != nil {
		return err
	}
	printTable(before, after, tr)
	fmt.Printf("wrote %s, %s and metrics.json to %s\n", peft.ConfigFile, peft.WeightsFile, *out)
	return nil
}

func readFiles(paths []string, labels dataset.Labels) ([]dataset.Example, error) {
	var shards [][]dataset.Example
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		ex, err := dataset.Read(p, f, st.Size(), labels)
		f.Close()
		if err != nil {
			return nil, err
		}
		shards = append(shards, ex)
	}
	return dataset.Concat(shards...), nil
}

func readAdapter(base *checkpoint.Model, dir string, numLabels int) (*peft.Adapter, error) {
	cfg, err := os.ReadFile(filepath.Join(dir, peft.ConfigFile))
	if err != nil {
		return nil, err
	}
	w, err := os.ReadFile(filepath.Join(dir, peft.WeightsFile))
	if err != nil {
		return nil, err
	}
	a, err := peft.Read(base.Config, numLabels, cfg, bytes.NewReader(w), int64(len(w)))
	if err != nil {
		return nil, fmt.Errorf("adapter %s: %w", dir, err)
	}
	return a, nil
}

func writeMerged(base *checkpoint.Model, a *peft.Adapter, labels dataset.Labels, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, peft.Merge(base.Weights, a), map[string]string{"format": "pt"}, "F32"); err != nil {
		return err
	}
	cfg, err := base.Config.JSON(labels)
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, "config.json"), cfg); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, "model.safetensors"), buf.Bytes())
}

// predictionsFile is what -predictions writes: enough to recompute the
// logits elsewhere (PEFT, say) and compare.
type predictionsFile struct {
	IDs    [][]int32   `json:"input_ids"`
	Logits [][]float32 `json:"logits"`
	Labels []int       `json:"labels"`
}

func writePredictions(path string, tr *train.Trainer, data *train.Encoded) error {
	logits, err := tr.Logits(data)
	if err != nil {
		return err
	}
	b, err := json.Marshal(predictionsFile{IDs: data.IDs, Logits: logits, Labels: data.Labels})
	if err != nil {
		return err
	}
	return writeAtomic(path, b)
}

// writeAtomic writes via a temporary file so nothing is left half-written.
func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func printTable(before, after metrics.Metrics, tr *train.Trainer) {
	fmt.Println()
	fmt.Printf("%-22s %10s %10s\n", "", "accuracy", "F1")
	fmt.Printf("%-22s %10.4f %10.4f\n", "base (before)", before.Accuracy, before.F1)
	fmt.Printf("%-22s %10.4f %10.4f\n", "fine-tuned", after.Accuracy, after.F1)
	fmt.Printf("%-22s %10s\n", "trainable params", fmt.Sprintf("%d", tr.TrainableParams()))
	fmt.Printf("%-22s %10s\n", "total params", fmt.Sprintf("%d", tr.TotalParams()))
	fmt.Printf("%-22s %9.2f%%\n", "trainable share", 100*float64(tr.TrainableParams())/float64(tr.TotalParams()))
	fmt.Printf("confusion (rows true, cols predicted): %v\n", after.Confusion)
}
