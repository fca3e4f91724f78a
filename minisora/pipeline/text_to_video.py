"""TextToVideoPipeline: a prompt in, a video out, with the pieces lessons 01-09 built (lesson 09).

    prompt --tokenizer--> ids, mask --TextToVideoModel (text encoder + video DiT)--> velocity / v
    x_T ~ N(0, I) (B, F, 4, H/4, W/4) --sampler, classifier-free guidance--> latents x_0
    x_0 --video VAE decode--> video (B, F, 3, H, W) in [0, 1]

diffusers' shape: `from_pretrained` bundles the checkpoint's denoiser (its text encoder
inside), the VAE its metadata names and the sampler of its objective (rectified flow: the flow's
steps, Euler's at eta 0, with fresh noise at the default eta 1; v-prediction: DDIM), and
`pipe(prompt, ...)` runs the loop of `minisora.diffusion.sample`.

A video's randomness is x_T and, with `eta` > 0, the fresh noise of every step (the
flow's sampler, `FlowMatchingSampler`; DDIM's η for v-prediction), all drawn on the CPU from
`seed`: the same prompt, seed and settings give the same video on every device. A list of
prompts draws its x_T as one batch from the seed, so prompt i of a list is not the video of
prompt i alone with the same seed.
"""

from __future__ import annotations

import pathlib
import warnings
from collections.abc import Sequence

import torch
from torch import Tensor

from minisora.blocks.patching import nearest_multiples
from minisora.core.checkpoint import data_file, load_model, read_checkpoint
from minisora.core.checks import check_int
from minisora.core.pixels import to_pixel_range
from minisora.data.scene import FPS
from minisora.diffusion import DDIMSampler, FlowMatchingSampler, guided_model, make_schedule, sample
from minisora.diffusion.flow import check_eta
from minisora.models import VAE, TextToVideoModel

DEFAULT_CHECKPOINT = "t2v.pt"  # in data/, found like data_file
TRAIN_COMMAND = "minisora train t2v --out runs/t2v && minisora export runs/t2v --out data/t2v.pt"
DEFAULT_GUIDANCE = 4.0
# Fresh noise at every step (DDPM's eta 1): on the validation suite of data/t2v.log it matched more one-object
# prompts than the Euler ODE sampler (eta 0) for the shipped model, by a paired +0.05 +- 0.045 of 400.
DEFAULT_ETA = 1.0
MAX_VIDEO_BYTES = 2**31  # one float32 video larger than 2 GiB is refused before any work


class TextToVideoPipeline:
    """Text encoder + video DiT + sampler + video VAE; `pipe(prompt)` -> video (F, 3, H, W) in [0, 1]."""

    def __init__(self, model: TextToVideoModel, vae: VAE, *, objective: str = "flow",
                 noise_schedule: str = "linear", num_frames: int = 16, height: int = 32, width: int = 32,
                 fps: float = FPS) -> None:
        if not isinstance(model, TextToVideoModel):
            raise ValueError(f"model must be a TextToVideoModel, got {type(model).__name__}")
        if not isinstance(vae, VAE):
            raise ValueError(f"vae must be a minisora VAE (the per-frame video VAE), got {type(vae).__name__}")
        if vae.config.latent_channels != model.config.dit.in_channels:
            raise ValueError(f"the VAE has {vae.config.latent_channels} latent channels but the DiT denoises "
                             f"{model.config.dit.in_channels}; pass the VAE the model was trained on")
        if objective not in ("flow", "v_prediction"):
            raise ValueError(f"unknown objective {objective!r}; choose 'flow' or 'v_prediction'")
        self.model, self.vae = model.eval(), vae.eval()
        self.objective, self.noise_schedule, self.fps = objective, noise_schedule, fps
        self.num_frames, self.height, self.width = num_frames, height, width
        self.check_size(num_frames, height, width)

    @classmethod
    def from_pretrained(cls, path: str | pathlib.Path | None = None, device: torch.device | str = "cpu",
                        ) -> TextToVideoPipeline:
        """The pipeline of a `minisora train t2v` model file (None: the shipped data/t2v.pt) or run folder."""
        path = cls._find(path)
        checkpoint = read_checkpoint(path)
        if checkpoint["class"] != "TextToVideoModel":
            raise ValueError(f"{path} holds a {checkpoint['class']}, not a text-to-video model; make one with "
                             f"{TRAIN_COMMAND}")
        model = load_model(path, expect=TextToVideoModel, device=device)
        options = model.checkpoint_metadata.get("options", {})
        missing = [key for key in ("vae", "objective", "frames", "size") if key not in options]
        if missing:
            raise ValueError(f"{path} has no {missing} in its metadata's options (not written by the t2v recipe); "
                             f"make the model with {TRAIN_COMMAND}")
        vae_name = options["vae"]
        vae_path = data_file(vae_name) if "/" not in vae_name else pathlib.Path(vae_name)
        vae = load_model(vae_path, expect=VAE, device=device)
        return cls(model, vae, objective=options["objective"], noise_schedule=options.get("noise_schedule", "linear"),
                   num_frames=options["frames"], height=options["size"], width=options["size"])

    @staticmethod
    def _find(path: str | pathlib.Path | None) -> pathlib.Path:
        if path is None:
            try:
                return data_file(DEFAULT_CHECKPOINT)
            except FileNotFoundError as error:
                raise FileNotFoundError(f"{error}; or train one: {TRAIN_COMMAND}") from None
        path = pathlib.Path(path)
        if path.is_dir():
            path = path / "last.pt"
        if not path.is_file():
            raise FileNotFoundError(f"no text-to-video checkpoint at {path}; pass a model file or run folder, "
                                    f"or make one with {TRAIN_COMMAND}")
        return path

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def factor(self) -> int:
        """Pixels per latent position along H and W."""
        return self.vae.config.factor

    def check_size(self, num_frames: int, height: int, width: int) -> None:
        """A ValueError naming the valid values unless the VAE and the DiT's patches can take this size."""
        dit = self.model.config.dit
        check_int(num_frames, "num_frames", minimum=1)
        check_int(height, "height", minimum=1)
        check_int(width, "width", minimum=1)
        if num_frames % dit.tubelet_frames:
            raise ValueError(f"num_frames={num_frames} is not a multiple of the DiT's {dit.tubelet_frames}-frame "
                             f"tubelets; use num_frames={nearest_multiples(num_frames, dit.tubelet_frames)}")
        unit = self.factor * dit.patch_size  # the VAE's factor times the DiT's patch
        for name, value in (("height", height), ("width", width)):
            if value % unit:
                valid = nearest_multiples(value, unit)
                raise ValueError(f"{name}={value} is not a multiple of {unit} (the VAE's factor {self.factor} x the "
                                 f"DiT's patch {dit.patch_size}); use {name}={valid}")
        if num_frames * height * width * 3 * 4 > MAX_VIDEO_BYTES:
            raise ValueError(f"a {num_frames}x{height}x{width} video needs "
                             f"{num_frames * height * width * 12 / 2**30:.1f} GiB as float32, more than "
                             f"{MAX_VIDEO_BYTES / 2**30:.0f} GiB; ask for fewer frames or a smaller size")

    def encode_prompts(self, prompts: Sequence[str]) -> tuple[Tensor, Tensor]:
        """Prompts -> ids, mask (B, L) on the device; warns naming unknown words, refuses empty prompts."""
        for i, prompt in enumerate(prompts):
            if not isinstance(prompt, str):
                raise ValueError(f"prompt {i} is a {type(prompt).__name__}, not a string")
            if not prompt.strip():
                raise ValueError(f"prompt {i} is empty; describe the video, e.g. 'a small red circle moving left' "
                                 "(for an unconditional video use guidance_scale=0 with any prompt)")
            unknown = self.model.tokenizer.unknown_words(prompt)
            if unknown:
                warnings.warn(f"prompt {prompt!r:.80}: the words {unknown} are not in the text encoder's vocabulary "
                              "and are read as <unk>; the world's words are in minisora.data.caption_vocabulary()",
                              stacklevel=3)  # the caller of pipe(...)
        ids, mask = self.model.tokenizer.encode(list(prompts))  # errors name a prompt too long for the context
        return ids.to(self.device), mask.to(self.device)

    def sampler(self, eta: float = DEFAULT_ETA):
        """The sampler of the model's objective: the flow's steps (Euler at eta 0), or DDIM for
        v-prediction (eta as its η: 0 deterministic, 1 DDPM's noise)."""
        if self.objective == "flow":
            return FlowMatchingSampler(eta=eta)
        return DDIMSampler(make_schedule(self.noise_schedule, 1000), prediction_type="v_prediction",
                           timestep_spacing="trailing", eta=eta)

    @torch.no_grad()
    def generate_latents(self, ids: Tensor, mask: Tensor, num_frames: int, height: int, width: int,
                         num_inference_steps: int, guidance_scale: float, seed: int,
                         progress: bool = False, eta: float = DEFAULT_ETA) -> Tensor:
        """Latents (B, F, C, H/f, W/f) for encoded prompts ids, mask (B, L), guided by `guidance_scale` (1 = none)."""
        batch = ids.shape[0]
        shape = (batch, num_frames, self.vae.config.latent_channels, height // self.factor, width // self.factor)
        generator = torch.Generator().manual_seed(seed)  # on the CPU: the same noise on every device
        model = self.model
        if guidance_scale != 1:
            null_ids, null_mask = self.model.null_text(batch, ids.shape[1], self.device)
            model = guided_model(self.model, guidance_scale, ids=null_ids, mask=null_mask)
        return sample(model, self.sampler(eta), shape, check_int(num_inference_steps, "num_inference_steps", minimum=1),
                      generator, device=self.device, progress=progress, ids=ids, mask=mask)

    def __call__(self, prompt: str | Sequence[str], num_frames: int | None = None, height: int | None = None,
                 width: int | None = None, num_inference_steps: int = 25, guidance_scale: float = DEFAULT_GUIDANCE,
                 seed: int = 0, progress: bool = False, eta: float = DEFAULT_ETA) -> Tensor:
        """A video (F, 3, H, W) in [0, 1] for one prompt, (B, F, 3, H, W) for a list; None sizes: the trained ones."""
        single = isinstance(prompt, str)
        prompts = [prompt] if single else prompt
        if not isinstance(prompts, Sequence) or isinstance(prompts, bytes) or len(prompts) == 0:
            raise ValueError(f"prompt must be a string or a non-empty list of strings, got {prompt!r:.60}")
        num_frames = self.num_frames if num_frames is None else num_frames
        height = self.height if height is None else height
        width = self.width if width is None else width
        self.check_size(num_frames, height, width)
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
            raise ValueError(f"seed must be an int in [0, 2**63), got {seed!r}")
        if isinstance(guidance_scale, bool) or not isinstance(guidance_scale, (int, float)) or not (
                0 <= guidance_scale < float("inf")):
            raise ValueError(f"guidance_scale must be a finite number >= 0 (1 = no guidance), got {guidance_scale!r}")
        check_eta(eta)
        ids, mask = self.encode_prompts(prompts)
        latents = self.generate_latents(ids, mask, num_frames, height, width, num_inference_steps,
                                        float(guidance_scale), seed, progress, float(eta))
        with torch.no_grad():
            video = to_pixel_range(self.vae.decode(latents).float()).cpu()  # (B, F, 3, H, W) in [0, 1]
        return video[0] if single else video
