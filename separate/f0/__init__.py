"""separate.f0: pitch tracks and F0-informed separation of monophonic voices.

- :mod:`separate.f0.track`: ``track_f0`` (pYIN; harmonic-sum or salience multi-F0), f0.csv
  read/write, plot;
- :mod:`separate.f0.salience`: the pitch-salience U-Net's features, targets and peak picking
  (Jansson Ch. 5; network in :mod:`separate.nets.salience`);
- :mod:`separate.f0.melody`: ``track_melody``, vocal melody = separate the vocals, then pYIN;
- :mod:`separate.f0.assign`: F0-to-voice assignment (Schulze-Forster et al., Sec. IV-B);
- :mod:`separate.f0.split`: ``split_voices`` with the source-filter model
  (:mod:`separate.nets.source_filter`) or the NMF baseline (:mod:`separate.f0.nmf`);
- :mod:`separate.f0.train`: unsupervised training on mixtures + F0.
"""
