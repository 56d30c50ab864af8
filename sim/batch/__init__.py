"""Many reports in one run (`runner`: local pool or Dask cluster, resumable) and their index (`index`)."""
