"""Prompt in, video out (lessons 09-11): the shipped pieces bundled, and the judge's scores of what they make.

    text_to_video   TextToVideoPipeline: text encoder + video DiT + sampler + video VAE, `from_pretrained`
    evaluate        a suite of prompts (seen / held-out combinations, 1-3 objects, camera, phrasing) and
                    the judge's table of what the pipeline generates for them

`pipeline` sits beside `train`: it loads what training wrote and never trains.
"""

from minisora.pipeline.evaluate import EvalPrompt, evaluate_pipeline, format_table, prompt_suite, score_table
from minisora.pipeline.text_to_video import DEFAULT_CHECKPOINT, TextToVideoPipeline

__all__ = ["DEFAULT_CHECKPOINT", "EvalPrompt", "TextToVideoPipeline", "evaluate_pipeline", "format_table",
           "prompt_suite", "score_table"]
