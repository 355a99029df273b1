import {
  DataTypes,
  Model,
  type CreationOptional,
  type InferAttributes,
  type InferCreationAttributes,
  type Sequelize,
} from 'sequelize';

export class ApplicationModel extends Model<
  InferAttributes<ApplicationModel>,
  InferCreationAttributes<ApplicationModel>
> {
  declare id: CreationOptional<number>;
  declare token: string;
  declare name: string;
  declare chatsCount: CreationOptional<number>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export class ChatModel extends Model<
  InferAttributes<ChatModel>,
  InferCreationAttributes<ChatModel>
> {
  declare id: CreationOptional<number>;
  declare applicationId: number;
  declare number: number;
  declare name: string | null;
  declare messagesCount: CreationOptional<number>;
  declare eventId: string | null;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export class MessageModel extends Model<
  InferAttributes<MessageModel>,
  InferCreationAttributes<MessageModel>
> {
  declare id: CreationOptional<number>;
  declare chatId: number;
  declare number: number;
  declare content: string;
  declare eventId: string;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export interface Models {
  readonly Application: typeof ApplicationModel;
  readonly Chat: typeof ChatModel;
  readonly Message: typeof MessageModel;
}

const id = { type: DataTypes.BIGINT.UNSIGNED, autoIncrement: true, primaryKey: true };
const timestamps = {
  createdAt: { type: DataTypes.DATE(3), allowNull: false },
  updatedAt: { type: DataTypes.DATE(3), allowNull: false },
};

/**
 * Binds the models to one Sequelize instance. The schema itself is owned by the migrations;
 * these definitions mirror it for queries and must never be `sync`ed.
 */
export function defineModels(sequelize: Sequelize): Models {
  // Model classes are bound per instance, so each Sequelize gets its own subclasses.
  const Application = class extends ApplicationModel {};
  const Chat = class extends ChatModel {};
  const Message = class extends MessageModel {};
  Application.init(
    {
      id,
      token: { type: DataTypes.CHAR(36), allowNull: false, unique: true },
      name: { type: DataTypes.STRING(255), allowNull: false },
      chatsCount: { type: DataTypes.INTEGER.UNSIGNED, allowNull: false, defaultValue: 0 },
      ...timestamps,
    },
    { sequelize, tableName: 'applications', modelName: 'Application' },
  );
  Chat.init(
    {
      id,
      applicationId: { type: DataTypes.BIGINT.UNSIGNED, allowNull: false },
      number: { type: DataTypes.INTEGER.UNSIGNED, allowNull: false },
      name: { type: DataTypes.STRING(255), allowNull: true },
      messagesCount: { type: DataTypes.INTEGER.UNSIGNED, allowNull: false, defaultValue: 0 },
      eventId: { type: DataTypes.CHAR(36), allowNull: true },
      ...timestamps,
    },
    { sequelize, tableName: 'chats', modelName: 'Chat' },
  );
  Message.init(
    {
      id,
      chatId: { type: DataTypes.BIGINT.UNSIGNED, allowNull: false },
      number: { type: DataTypes.INTEGER.UNSIGNED, allowNull: false },
      content: { type: DataTypes.TEXT, allowNull: false },
      eventId: { type: DataTypes.CHAR(36), allowNull: false },
      ...timestamps,
    },
    { sequelize, tableName: 'messages', modelName: 'Message' },
  );
  return { Application, Chat, Message };
}
