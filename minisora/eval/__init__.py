"""The judge: does a video show what its caption says? Measured from pixels alone (lesson 00).

`measure` turns a video into numbers (colours, areas, moments, world tracks, camera), blind
to any caption; `judge` checks them against a caption attribute by attribute; `score`
averages the checks over a batch, which is how later lessons grade generated videos;
`score_images` does the same for still frames (lessons 02, 03, 06); `wilson_interval` says how
sure a rate over n samples is.
"""

from minisora.eval.images import image_census, judge_image, score_images, see_image
from minisora.eval.intervals import intervals_overlap, wilson_interval
from minisora.eval.judge import Verdict, compare, describe, judge, score
from minisora.eval.measurement import Measurement, ObjectMeasurement, measure

__all__ = [
    "Measurement", "ObjectMeasurement", "Verdict", "compare", "describe", "image_census", "judge", "judge_image",
    "intervals_overlap", "measure", "score", "score_images", "see_image", "wilson_interval",
]
