"""The personal learning-work trajectory (zelfontworpen leertraject) of each member."""
