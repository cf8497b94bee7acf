// Package batch runs batch jobs: a job file names sources (checkpoints,
// globs of them) and targets (GGUF mixes and types, MLX bits and recipes);
// every source is imported once to the canonical layout and every target
// is made from that import, each output written atomically with a result
// record, so that a rerun skips what is done and current. Work is split
// into shards by source for cluster job arrays (Slurm, Kubernetes Indexed
// Jobs); shards share only the output file system, and a lease per source
// keeps two processes from writing the same outputs. Merge folds the
// records into one report. docs/BATCH.md describes the job file and the
// guarantees.
package batch
