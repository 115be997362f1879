"""The seed graph's three nodes served by Exosphere's own Python SDK as one pull runtime.

`npm run bench -- --pull-python <python>` starts this with a Python that has the SDK installed
(`pip install exospherehost`), once against exoflare and once against the pull floor, and stops it when the
job is done. It registers the nodes, then polls and executes exactly as any SDK runtime does: the
benchmark measures the SDK's own request pattern, not a re-implementation of it.

Usage: python seed_runtime.py URI KEY NAMESPACE BATCH_SIZE WORKERS POLL_SECONDS
"""

import json
import sys
from decimal import Decimal

from exospherehost import BaseNode, Runtime
from pydantic import BaseModel


class DataSplitterNode(BaseNode):
    """Splits `data` (a JSON array) into chunks of `chunk_size` elements: one output, one branch each."""

    class Inputs(BaseModel):
        data: str
        chunk_size: str

    class Outputs(BaseModel):
        chunk: str

    async def execute(self):
        size = int(self.inputs.chunk_size)
        if size < 1:
            raise ValueError("Input 'chunk_size' must be a positive integer")
        items = json.loads(self.inputs.data)
        return [self.Outputs(chunk=json.dumps(items[i : i + size])) for i in range(0, len(items), size)]


class DataProcessorNode(BaseNode):
    """Sums `data` (a JSON array of numbers) into `result`, an exact decimal string."""

    class Inputs(BaseModel):
        data: str

    class Outputs(BaseModel):
        result: str

    async def execute(self):
        values = json.loads(self.inputs.data, parse_float=Decimal, parse_int=Decimal)
        return self.Outputs(result=str(sum(values, Decimal(0))))


class ResultMergerNode(BaseNode):
    """Adds up `processed_data` (a JSON array of decimal strings) into `merged`."""

    class Inputs(BaseModel):
        processed_data: str

    class Outputs(BaseModel):
        merged: str

    async def execute(self):
        values = [Decimal(v) for v in json.loads(self.inputs.processed_data)]
        return self.Outputs(merged=str(sum(values, Decimal(0))))


if __name__ == "__main__":
    uri, key, namespace, batch_size, workers, poll_seconds = sys.argv[1:7]
    Runtime(
        namespace=namespace,
        name="bench-python-sdk",
        nodes=[DataSplitterNode, DataProcessorNode, ResultMergerNode],
        state_manager_uri=uri,
        key=key,
        batch_size=int(batch_size),
        workers=int(workers),
        poll_interval=float(poll_seconds),
    ).start()
