package verify

import "github.com/sambay-conv/sambay-conv/report"

// Legend explains the figures and verdicts of a parity report, and which
// direction is good, for readers of the Markdown and HTML reports.
func Legend() report.List {
	return report.List{
		"**Verdicts**: PASS or FAIL against a threshold; REPORT: measured, no threshold given (a quantized model is expected to differ from its original); SKIPPED: could not run, with the reason.",
		"**KL divergence** (nats): per position, KL(reference ‖ model) of the next-token distributions; mean, 99th percentile and maximum over the positions. 0 means identical; lower is better.",
		"**top-1**: the share of positions where both pick the same most likely next token. Higher is better.",
		"**NMSE**: Σ(model − reference)² / Σ reference², over the logits (or, per tensor, the weights). Lower is better.",
		"**PPL Δ**: the model's perplexity on the tokens minus the reference's. Closer to 0 is better; on these fixed token sequences the perplexity itself means little.",
		"**max abs err, relative error**: the largest logit (or hidden-state) difference, absolute and relative to the reference's largest magnitude; judged against the tolerance when one is given. Blocks are compared on the residual stream after each block.",
		"**bits/weight**: stored bits per parameter, scales and F32 tensors included.",
	}
}
