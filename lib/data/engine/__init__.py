"""The embedded synthetic face engine: KDEF-like identities x emotions x poses with exact
labels, built offline from the DCGAN face generator and MediaPipe's FaceMesh.

Pipeline (one module each): generator (DCGAN faces) -> identity (mesh fit, canonical
frame, selection) -> texture (UV atlas) -> expressions (landmark deformation) -> render
(textured mesh at yaw/pitch, session look) -> labels (25-class parsing, 68 points) ->
build (FaceSet writer, processes) -> quality (recogniser and landmark checks).
corpora builds the training corpora (synth_webface, synth_celeba, synth_facesynthetics) and the
held-out benchmark from one pool of persons; capacity measures how many distinct persons it holds.
Introduced by notebooks/00_data_prep.ipynb; data cards: data_cards/synth_kdef.md, data_cards/synth_corpora.md.
"""
