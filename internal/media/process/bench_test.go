package process

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkImage12MP: all DefaultSpecs variants of a 4000×3000 photo-like
// JPEG (goal: < 1 s on the 2-core dev machine).
//
//	go test -run '^$' -bench Image12MP -benchtime 5x ./internal/media/process/
func BenchmarkImage12MP(b *testing.B) {
	data := encodeJPEG(b, photo(4000, 3000, 12), 90)
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := Image(data, Limits{}, DefaultSpecs); err != nil {
			b.Fatal(err)
		}
	}
	// CPU time is steadier than wall time on a shared machine: wall time
	// is roughly decode (one core) plus resizing (spread over all cores).
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(len(data))/(1<<20), "input-MiB")
}

// BenchmarkImage12MPTwoWorkers: images/s with two pipelines at once, as a
// media worker runs with media.workers = 2.
//
//	go test -run '^$' -bench Image12MPTwoWorkers -benchtime 10x ./internal/media/process/
func BenchmarkImage12MPTwoWorkers(b *testing.B) {
	data := encodeJPEG(b, photo(4000, 3000, 12), 90)
	b.SetParallelism(max(1, 2/runtime.GOMAXPROCS(0)))
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := Image(data, Limits{}, DefaultSpecs); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "images/s")
}

// BenchmarkImage12MPStages splits the 12 MP pipeline into decode and the
// rest, to see where the time goes.
func BenchmarkImage12MPStages(b *testing.B) {
	data := encodeJPEG(b, photo(4000, 3000, 12), 90)
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := codecs["image/jpeg"].decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
	src, err := codecs["image/jpeg"].decode(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("variants", func(b *testing.B) {
		for b.Loop() {
			makeVariants(src, 1, DefaultSpecs)
		}
	})
}

// peakEnv names the file the peak-memory child process processes.
const peakEnv = "MEDIA_PROCESS_PEAK_FILE"

// peakReport is what the child prints.
type peakReport struct {
	Pixels       int64
	InputBytes   int
	Elapsed      time.Duration
	PeakHeapMiB  float64 // highest sampled live heap objects
	TotalAllocMB float64 // runtime.MemStats.TotalAlloc during Image
	VmHWMMiB     float64 // peak RSS of the whole child process
	VmHWMBefore  float64 // peak RSS before Image (binary, runtime, input)
}

// BenchmarkImage50MPMemory measures the peak memory of Image on an
// 8660×5773 (49.99 MP, just under DefaultMaxPixels; 8660×5774 is
// 50,002,840 pixels, just over) photo-like image, as a 4:2:0 JPEG and as an
// 8-bit RGB PNG. Each image is processed in a fresh child process so VmHWM
// (peak RSS) is not polluted by generating the fixture.
//
//	go test -run '^$' -bench Image50MPMemory -benchtime 1x ./internal/media/process/
func BenchmarkImage50MPMemory(b *testing.B) {
	src := photo(8660, 5773, 50)
	for _, format := range []string{"jpeg", "png"} {
		b.Run(format, func(b *testing.B) {
			var data []byte
			if format == "jpeg" {
				data = encodeJPEG(b, src, 85)
			} else {
				data = encodePNG(b, src)
			}
			path := filepath.Join(b.TempDir(), "50mp."+format)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				b.Fatal(err)
			}
			var rep peakReport
			for b.Loop() {
				rep = runPeakChild(b, path)
			}
			b.ReportMetric(float64(rep.InputBytes)/(1<<20), "input-MiB")
			b.ReportMetric(rep.Elapsed.Seconds(), "image-s")
			b.ReportMetric(rep.PeakHeapMiB, "peak-heap-MiB")
			b.ReportMetric(rep.TotalAllocMB, "alloc-MiB")
			b.ReportMetric(rep.VmHWMBefore, "VmHWM-before-MiB")
			b.ReportMetric(rep.VmHWMMiB, "VmHWM-MiB")
		})
	}
}

func runPeakChild(b *testing.B, path string) peakReport {
	cmd := exec.Command(os.Args[0], "-test.run=^TestPeakMemoryChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), peakEnv+"="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("child: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "PEAK "); ok {
			var rep peakReport
			if err := json.Unmarshal([]byte(line), &rep); err != nil {
				b.Fatal(err)
			}
			return rep
		}
	}
	b.Fatalf("no report from child:\n%s", out)
	return peakReport{}
}

// TestPeakMemoryChild is the child of BenchmarkImage50MPMemory; it does
// nothing unless MEDIA_PROCESS_PEAK_FILE is set.
func TestPeakMemoryChild(t *testing.T) {
	path := os.Getenv(peakEnv)
	if path == "" {
		t.Skip("child process of BenchmarkImage50MPMemory")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	before := vmHWM(t)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)

	// Sample the live heap every millisecond while Image runs.
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	start := time.Now()
	res, err := Image(data, Limits{MaxBytes: int64(len(data))}, DefaultSpecs)
	elapsed := time.Since(start)
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&ms1)
	rep := peakReport{
		Pixels:       int64(res.Width) * int64(res.Height),
		InputBytes:   len(data),
		Elapsed:      elapsed,
		PeakHeapMiB:  float64(peak) / (1 << 20),
		TotalAllocMB: float64(ms1.TotalAlloc-ms0.TotalAlloc) / (1 << 20),
		VmHWMMiB:     vmHWM(t),
		VmHWMBefore:  before,
	}
	j, _ := json.Marshal(rep)
	fmt.Printf("PEAK %s\n", j)
}

// vmHWM returns the process's peak resident set size in MiB.
func vmHWM(t testing.TB) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb / 1024
		}
	}
	t.Fatal("no VmHWM")
	return 0
}
