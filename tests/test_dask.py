"""The Dask path gives exactly the single-process answers, partitions and order preserved."""

from __future__ import annotations

import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe", reason="the dask extra is not installed")
distributed = pytest.importorskip("dask.distributed", reason="the dask extra is not installed")

REF = "2024-02-02 09:30"


@pytest.fixture(scope="module")
def cluster_client():
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


class TestDask:
    def test_route_dataframe_on_local_cluster_equals_single_process(self, cluster_client, router, saved_router,
                                                                     heldout_tickets):
        from sujian_router.dask import route_dataframe
        from sujian_router._stream import decisions_to_frame

        pdf = heldout_tickets.head(120)[["ticket_id", "text", "district", "street"]].reset_index(drop=True)
        ddf = dd.from_pandas(pdf, npartitions=4)
        routed = route_dataframe(ddf, saved_router, reference_time=REF, keep_columns=("ticket_id",))
        assert routed.npartitions == 4
        got = routed.compute()
        expected = decisions_to_frame(router.route_many(pdf, received_at=REF), pdf[["ticket_id"]])
        assert list(got.index) == list(range(len(pdf)))
        pd.testing.assert_frame_equal(got.reset_index(drop=True), expected, check_dtype=False)

    def test_route_file_dask_engine_equals_local(self, router, saved_router, heldout_tickets, tmp_path):
        from sujian_router import route_file
        from sujian_router._synth import write_export

        src = tmp_path / "in.csv"
        write_export(heldout_tickets.head(90), src, fmt="csv", encoding="utf-8-sig", columns="zh")
        a = tmp_path / "local.csv"
        b = tmp_path / "dask.csv"
        route_file(src, a, router=str(saved_router), chunk_size=40, progress=False)
        route_file(src, b, router=str(saved_router), chunk_size=40, progress=False, engine="dask")
        assert a.read_text(encoding="utf-8-sig") == b.read_text(encoding="utf-8-sig")

    def test_missing_text_column_is_named(self, saved_router):
        from sujian_router import TicketSchemaError
        from sujian_router.dask import route_dataframe

        ddf = dd.from_pandas(pd.DataFrame({"body": ["x"]}), npartitions=1)
        with pytest.raises(TicketSchemaError, match="expected columns \\['text'\\]"):
            route_dataframe(ddf, saved_router)
