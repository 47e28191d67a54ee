import { brokerConformance } from './broker-conformance.ts';
import { MemoryBroker } from '../../src/engine/memory/memory-broker.ts';

brokerConformance('memory', async () => new MemoryBroker());
