"""Generation with and without a KV cache: seconds for 256 new tokens from lesson 10's GPT shape.

    python -m benchmarks.kv_cache [--quick]

The model is lesson 10's character GPT (d_model 64, 4 heads, 2 blocks, 4 x 64 hidden units, a vocabulary of
109 characters) with random weights (speed does not depend on them) and a context of 16 + 256 positions, so that
a 16-token prompt and 256 new tokens fit. Both arms are :class:`labs_lib.models.Generator`, each traced once
beforehand: without the cache the whole sequence runs through the model for every new token (one traced function
for every length); with it, one position, in a step of fixed shapes compiled with XLA (``jit_compile=True``; at
this size the cost of a step is mostly per-operation overhead, which XLA's fusion removes). The two arms alternate (ABBA), the ratio is the median of per-round ratios, and both arms must give
the same tokens (asserted). ``--quick`` generates 64 tokens instead of 256, with fewer rounds.
"""

from __future__ import annotations

from benchmarks.common import figure, interleaved, main, median_ratio

PROMPT_TOKENS = 16  # tokens of prompt before the new ones


def run(quick: bool) -> list[dict]:
    import statistics

    import numpy as np

    from labs_lib import config, device, models

    device.setup()
    config.set_seed(0)
    num_tokens = 64 if quick else 256  # new tokens per generation
    repeats = 2 if quick else 6  # rounds per arm
    gpt_config = models.GPTConfig(vocab_size=109, seq_len=PROMPT_TOKENS + num_tokens, d_model=64, num_heads=4,
                                  num_layers=2, ff_dim=256, dropout=0.0)
    model = models.build_gpt(gpt_config)
    prompt = list(np.random.default_rng(0).integers(0, gpt_config.vocab_size, size=PROMPT_TOKENS))
    generators = {"cached": models.Generator(model, kv_cache=True, jit_compile=True),
                  "uncached": models.Generator(model, kv_cache=False)}
    outputs = {name: g.generate(prompt, 4, seed=0) for name, g in generators.items()}  # warm-up: traces both
    step_times: dict[str, list[float]] = {}

    def arm(name):
        def one_run():
            times: list[float] = []
            outputs[name] = generators[name].generate(prompt, num_tokens, seed=0, step_times=times)
            step_times[name] = times
            return sum(times)
        return one_run

    times = interleaved({name: arm(name) for name in generators}, repeats)
    if outputs["cached"] != outputs["uncached"]:
        raise AssertionError("the cached and uncached generators gave different tokens")
    ratio = median_ratio(times["uncached"], times["cached"])
    late = {name: 1000 * statistics.median(t[-16:]) for name, t in step_times.items()}  # ms per token near the end
    early = {name: 1000 * statistics.median(t[1:17]) for name, t in step_times.items()}  # near the start
    detail = (f"{num_tokens} tokens after a {PROMPT_TOKENS}-token prompt, {repeats} rounds per arm; the same tokens; "
              f"ms per token early/late: cached {early['cached']:.2f}/{late['cached']:.2f}, "
              f"uncached {early['uncached']:.2f}/{late['uncached']:.2f}")
    return [
        figure(f"KV cache: generation speed-up, {num_tokens} new tokens (uncached / cached time)", ratio, "x",
               target=">= 3" if not quick else None, ok=(ratio >= 3) if not quick else None, detail=detail,
               samples=times),
        figure(f"KV cache: ms per new token with the cache ({num_tokens} tokens)",
               1000 * statistics.median(times["cached"]) / num_tokens, "ms"),
        figure(f"KV cache: ms per new token without the cache ({num_tokens} tokens)",
               1000 * statistics.median(times["uncached"]) / num_tokens, "ms"),
    ]


if __name__ == "__main__":
    main("kv_cache", run, __doc__)
