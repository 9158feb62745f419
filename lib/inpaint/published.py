"""The inpainting paper's published numbers, with their source (docs/inpainting.md).

F. Pleško, T. Goldmann, K. Malinka, BIOSIG 2023, and its code (filipplesko/Facial_image_reconstruction).
The paper's PSNR/SSIM and recognition tables are not reproduced here.
"""

from lib.data.sources.celeba_c import PUBLISHED_COVERAGE

# The damage of CelebA-C over 1,000 masks on the 256 x 256 canvas: covered fraction (the number lives
# with the CelebA-C adapter, which draws the masks).
MASK_COVERAGE = PUBLISHED_COVERAGE
# Parameter counts of the published models at width 1.0, 256 px (keras model summaries), millions.
GENERATOR_PARAMS_M = 26.06
DISCRIMINATOR_PARAMS_M = 7.38
