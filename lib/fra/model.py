"""The FRA network: a posture autoencoder and a ViT that combines posture code and identity embedding.

    model = FRA(identity_dim=512, dropout_ae=0.4)              # MagFace/ArcFace setting (0.05: CosFace)
    reconstruction, generated = model(posture_maps, identity_emb)   # (B,1,112,112), (B,512)
    generated = model.generate(posture_maps, identity_emb)          # eval mode, no grad

Layer for layer the published code (Face-Representation-Augmentation, commit 00a10e3):
``ConvAutoencoder`` in code/step2_train_FRA.py (encoder, ``decoder_pose_reconstructor``) and
``EmbeddingGeneratorDecoder_VIT`` / ``VisionTransformer`` / ``AttentionBlock`` in code/model_utils.py.
Departures, each on purpose:
- Dropout. The code writes ``x = F.dropout(x, p=self.dropout_rate)`` after every conv but the last
  (step2_train_FRA.py, ``ConvAutoencoder.encoder`` and ``decoder_pose_reconstructor``); F.dropout's
  ``training`` defaults to True, so it stays on in ``net.eval()`` and at evaluation time (generated
  embeddings are noisy draws). Here ``nn.Dropout`` modules at the same places: off in eval mode.
- 128-d FRLs (dlib, SFace): the code only knows 512-d embeddings, whose 512 + 512 = 1024 values are
  reshaped to a 32 x 32 image. For other sizes a Linear(512 + D -> 1024) after the LayerNorm maps
  onto the grid (``ViTCombiner.to_grid``); for D = 512 it is the identity, as in the code.
- Positional embedding: the code allocates 1 + 32 positions for MagFace/ArcFace (1 + 16 for
  CosFace) and uses the first 1 + 16; here 1 + 16 (the unused 4,096 parameters dropped).

Introduced by notebooks/01_fra (the FRA issue); trained by lib.fra.train.
"""

from __future__ import annotations

import torch
from torch import nn

POSTURE_DIM = 512
MAP_SIZE = 112
ENCODER_CHANNELS = (1, 4, 16, 64, 128, 256, 512)


class PostureAutoencoder(nn.Module):
    """Binary 112 x 112 landmark map -> 512-d posture code -> reconstructed map (sigmoid).

    Encoder: 6 x [conv3x3 s1 p1, dropout, ReLU, maxpool2]: 112 -> 56 -> 28 -> 14 -> 7 -> 3 -> 1.
    Decoder (the code's sizes): upsample x4 (1 -> 4), conv2x2 s3 p2 (-> 3); upsample x3 (-> 9),
    conv3x3 p0 (-> 7); then 4 x [upsample x2, conv3x3 p1]: 14, 28, 56, 112; each conv but the last
    followed by dropout and ReLU, the last by a sigmoid.

    Args:
        dropout: dropout rate after every conv but the last (the code's --dropout-rate: 0.4 for
            MagFace/ArcFace, 0.05 for CosFace).
    """

    def __init__(self, dropout: float = 0.4):
        super().__init__()
        c = ENCODER_CHANNELS
        enc: list[nn.Module] = []
        for cin, cout in zip(c[:-1], c[1:]):
            enc += [nn.Conv2d(cin, cout, 3, stride=1, padding=1), nn.Dropout(dropout), nn.ReLU(),
                    nn.MaxPool2d(2)]
        self.encoder = nn.Sequential(*enc)
        # (upsample factor, conv in, conv out, kernel, stride, padding) as decoder_layer1..6 of the code
        spec = [(4, 512, 256, 2, 3, 2), (3, 256, 128, 3, 1, 0), (2, 128, 64, 3, 1, 1), (2, 64, 16, 3, 1, 1),
                (2, 16, 4, 3, 1, 1), (2, 4, 1, 3, 1, 1)]
        dec: list[nn.Module] = []
        for i, (up, cin, cout, k, s, p) in enumerate(spec):
            dec += [nn.Upsample(scale_factor=up, mode="nearest"), nn.Conv2d(cin, cout, k, stride=s, padding=p)]
            dec += [nn.Dropout(dropout), nn.ReLU()] if i < len(spec) - 1 else [nn.Sigmoid()]
        self.decoder = nn.Sequential(*dec)

    def encode(self, maps: torch.Tensor) -> torch.Tensor:
        """(B, 112, 112) or (B, 1, 112, 112) maps in [0, 1] -> (B, 512) posture codes."""
        if maps.ndim == 3:
            maps = maps.unsqueeze(1)
        return self.encoder(maps.float()).flatten(1)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """(B, 512) posture codes -> (B, 1, 112, 112) reconstructed maps in (0, 1)."""
        return self.decoder(code.reshape(-1, POSTURE_DIM, 1, 1))

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(maps))


def _block(dim: int, heads: int, mlp_dim: int, dropout: float) -> nn.Module:
    """A pre-LN transformer block as the code's ``AttentionBlock``.

    x + MHA(LN(x)), then x + MLP(LN(x)) with MLP = Linear-GELU-Dropout-Linear-Dropout;
    nn.MultiheadAttention has q/k/v biases and no dropout (torch's default 0.0), so the timm
    block gets qkv_bias=True, no attention/projection dropout, torch's LayerNorm (eps 1e-5), and an
    Mlp that carries the dropout.
    """
    from timm.layers import Mlp
    from timm.models.vision_transformer import Block

    block = Block(dim, heads, mlp_ratio=mlp_dim / dim, qkv_bias=True, proj_drop=0.0, attn_drop=0.0,
                  norm_layer=nn.LayerNorm)
    block.mlp = Mlp(dim, hidden_features=mlp_dim, act_layer=nn.GELU, drop=dropout)
    return block


class ViTCombiner(nn.Module):
    """[posture code, identity embedding] -> generated identity embedding (the code's
    ``EmbeddingGeneratorDecoder_VIT``).

    concat (posture first) -> LayerNorm(512 + D) -> [Linear(512 + D -> 1024) when 512 + D != 1024]
    -> 1 x 32 x 32 image -> 8 x 8 patches (16 of 64 values) -> Linear(64 -> dim), CLS token,
    learned positional embedding, dropout -> ``depth`` pre-LN blocks -> LayerNorm -> Linear(dim ->
    out_dim) on the CLS token. Output unnormalised, as in the code.

    Args:
        identity_dim: D, the FRL embedding size.
        out_dim: generated embedding size (default D; the code: 512).
        dim: token width (256). depth: blocks (4). heads: attention heads (4).
        mlp_dim: MLP hidden width (256, i.e. mlp_ratio 1.0). patch: patch side (8).
        dropout: after the positional embedding and inside each MLP (0.05).
        grid: side of the square the input vector is laid out on (32).
    """

    def __init__(self, identity_dim: int, out_dim: int | None = None, dim: int = 256, depth: int = 4,
                 heads: int = 4, mlp_dim: int = 256, patch: int = 8, dropout: float = 0.05, grid: int = 32):
        super().__init__()
        if grid % patch:
            raise ValueError(f"grid {grid} is not a multiple of patch {patch}")
        in_dim = POSTURE_DIM + identity_dim
        self.identity_dim, self.out_dim = identity_dim, out_dim or identity_dim
        self.grid, self.patch = grid, patch
        self.norm_in = nn.LayerNorm(in_dim)
        # Departure from the code for D != 512 only (it reshapes the 1024 values directly).
        self.to_grid = nn.Identity() if in_dim == grid * grid else nn.Linear(in_dim, grid * grid)
        n_patches = (grid // patch) ** 2
        self.patch_embed = nn.Linear(patch * patch, dim)
        # torch.randn as in the code (not timm's trunc_normal(0.02))
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, 1 + n_patches, dim))
        self.pos_drop = nn.Dropout(dropout)
        self.blocks = nn.Sequential(*[_block(dim, heads, mlp_dim, dropout) for _ in range(depth)])
        self.head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, self.out_dim))

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """(B, grid*grid) -> (B, n_patches, patch*patch), row-major patches of row-major pixels
        (the code's ``img_to_patch``)."""
        b, g, p = x.shape[0], self.grid, self.patch
        return x.reshape(b, g // p, p, g // p, p).permute(0, 1, 3, 2, 4).reshape(b, (g // p) ** 2, p * p)

    def forward(self, posture_code: torch.Tensor, identity_emb: torch.Tensor) -> torch.Tensor:
        x = self.to_grid(self.norm_in(torch.cat([posture_code, identity_emb.float()], 1)))
        x = self.patch_embed(self.patches(x))
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        x = self.blocks(self.pos_drop(x))
        return self.head(x[:, 0])


class FRA(nn.Module):
    """Posture autoencoder + ViT combiner (the code's ``ConvAutoencoder``).

    Args:
        identity_dim: D, the FRL embedding size (512 for the paper's FRLs, 128 for dlib/SFace).
        dropout_ae: the autoencoder's dropout (--dropout-rate: 0.4 MagFace/ArcFace, 0.05 CosFace).
        dropout_vit: the combiner's dropout (0.05, fixed in the code).
        out_dim: generated embedding size (default D).
    """

    def __init__(self, identity_dim: int, dropout_ae: float = 0.4, dropout_vit: float = 0.05,
                 out_dim: int | None = None):
        super().__init__()
        self.identity_dim = identity_dim
        self.autoencoder = PostureAutoencoder(dropout_ae)
        self.combiner = ViTCombiner(identity_dim, out_dim, dropout=dropout_vit)

    def forward(self, posture_maps: torch.Tensor, identity_emb: torch.Tensor):
        """-> (reconstruction (B, 1, 112, 112), generated embedding (B, out_dim))."""
        code = self.autoencoder.encode(posture_maps)
        return self.autoencoder.decode(code), self.combiner(code, identity_emb)

    @torch.no_grad()
    def generate(self, posture_maps: torch.Tensor, identity_emb: torch.Tensor) -> torch.Tensor:
        """The generated embedding in eval mode (dropout off), without gradients; the mode is restored."""
        was = self.training
        self.eval()
        try:
            return self.combiner(self.autoencoder.encode(posture_maps), identity_emb)
        finally:
            self.train(was)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
