// The references for tests/data/{movenet,centernet}_astronaut_tfjs.json: a TensorFlow.js graph
// model run by TensorFlow.js itself (pure-JavaScript CPU backend, Node.js), to check openhmr's
// PyTorch reader.
//   npm install @tensorflow/tfjs-core@4.22.0 @tensorflow/tfjs-converter@4.22.0 @tensorflow/tfjs-backend-cpu@4.22.0
//   node scripts/tfjs_reference.js MODEL.json INPUT.bin H W OUT.json [DTYPE [OUTPUT]]
// INPUT.bin: the (H, W, 3) image, row-major (numpy's tofile), as DTYPE (int32, the default, or
// float32). OUTPUT: the node to read (default: the graph's only output). OUT.json: {"output": {shape, data}}.
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const tfc = require('@tensorflow/tfjs-converter');

(async () => {
  await tf.setBackend('cpu');
  const [modelPath, inputPath, H, W, outPath, dtype = 'int32', outputName] = process.argv.slice(2);
  const json = JSON.parse(fs.readFileSync(modelPath));
  const specs = [];
  const shards = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) shards.push(fs.readFileSync(path.join(path.dirname(modelPath), p)));
  }
  const weights = Buffer.concat(shards);
  const model = await tfc.loadGraphModel(tf.io.fromMemory({
    modelTopology: json.modelTopology, weightSpecs: specs,
    weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
  }));
  const raw = fs.readFileSync(inputPath);
  const values = dtype === 'float32' ? new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4)
    : new Int32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const input = tf.tensor(values, [1, +H, +W, 3], dtype);
  const out = await model.executeAsync(input, outputName);
  fs.writeFileSync(outPath, JSON.stringify({output: {shape: out.shape, data: Array.from(await out.data())}}));
})();
